"""Find or download raw dataset files, verify their SHA256, and resolve the data-directory search path.

Raw files are looked up in ``$KGREC_DATA_DIR`` entries, then the download cache, then a ``shared/datasets``
folder beside a source checkout, so that pre-fetched copies are reused and nothing is downloaded twice.
Downloads are verified before they are renamed into place, so a file on disk under its final name is
always complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from kgrec.atomic import atomic_path
from kgrec.errors import DatasetError, DownloadError

__all__ = [
    "RemoteFile",
    "project_root",
    "cache_dir",
    "data_search_path",
    "sha256_of",
    "mismatched_digest",
    "verify",
    "find_dataset",
    "download_dataset",
    "locate_dataset",
    "where_found",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # 1 MiB
_TIMEOUT = 60.0


@dataclass(frozen=True)
class RemoteFile:
    """One raw file of a dataset: its local name, where to fetch it from and its expected SHA256.

    ``member`` names the file inside the zip archive at ``url`` when ``url`` is an archive; ``sha256`` is
    then the digest of the extracted member, not of the archive.
    """

    name: str
    url: str
    sha256: str
    member: str | None = None


def project_root() -> Path | None:
    """The repository root when kgrec runs from a source checkout (``pyproject.toml`` beside ``kgrec/``)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "kgrec").is_dir():
        return root
    return None


def cache_dir() -> Path:
    """Where downloads go: ``$KGREC_CACHE_DIR``, else ``<checkout>/data``, else ``~/.cache/kgrec``."""
    env = os.environ.get("KGREC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    root = project_root()
    if root is not None:
        return root / "data"
    return Path.home() / ".cache" / "kgrec"


def data_search_path() -> list[Path]:
    """Directories searched for datasets: ``$KGREC_DATA_DIR`` entries, the cache, then ``../shared/datasets``."""
    candidates = [Path(p).expanduser() for p in os.environ.get("KGREC_DATA_DIR", "").split(os.pathsep) if p]
    candidates.append(cache_dir())
    root = project_root()
    if root is not None:
        candidates.append(root.parent / "shared" / "datasets")
    seen: set[str] = set()
    result: list[Path] = []
    for path in candidates:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result


def sha256_of(path: Path) -> str:
    """Hex SHA256 of a file, read in 1 MiB chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def mismatched_digest(path: Path, expected_sha256: str) -> str | None:
    """The actual SHA256 of ``path`` when it differs from ``expected_sha256`` (any case), else None."""
    actual = sha256_of(path)
    return None if actual == expected_sha256.lower() else actual


def verify(path: Path, expected_sha256: str) -> None:
    """Raise :class:`DownloadError` unless ``path`` has the expected SHA256."""
    actual = mismatched_digest(path, expected_sha256)
    if actual is not None:
        raise DownloadError(f"SHA256 mismatch: expected {expected_sha256.lower()}, got {actual}", path=path)


def find_dataset(folder: str, files: Sequence[RemoteFile], search_path: Sequence[Path] | None = None) -> Path | None:
    """The first ``<dir>/<folder>`` on the search path that holds every file in ``files``, or None."""
    for directory in data_search_path() if search_path is None else search_path:
        candidate = Path(directory) / folder
        if candidate.is_dir() and all((candidate / f.name).is_file() for f in files):
            logger.debug("dataset %s found in %s", folder, candidate)
            return candidate
    return None


def _fetch(url: str, dest: Path, label: str, progress: bool) -> None:
    """Stream ``url`` into ``dest`` with a progress bar; network failures become :class:`DownloadError`."""
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                      disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"download failed: HTTP {exc.code} {exc.reason}", path=url) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"download failed: {exc.reason}", path=url) from exc
    except (OSError, ValueError) as exc:
        raise DownloadError(f"download failed: {exc}", path=url) from exc


def _check(tmp: Path, file: RemoteFile) -> None:
    """Raise :class:`DownloadError` (naming URL, file and both digests) unless ``tmp`` matches ``file``."""
    actual = mismatched_digest(tmp, file.sha256)
    if actual is not None:
        raise DownloadError(
            f"SHA256 mismatch for {file.name}: expected {file.sha256.lower()}, got {actual}", path=file.url
        )


def download_dataset(
    folder: str, files: Sequence[RemoteFile], target_root: Path | None = None, progress: bool = True
) -> Path:
    """Download and verify every file into ``<target_root or cache_dir()>/<folder>``; return that folder.

    Files already present with the right checksum are kept; each archive URL is fetched at most once.
    """
    target_dir = Path(target_root if target_root is not None else cache_dir()) / folder
    target_dir.mkdir(parents=True, exist_ok=True)
    pending = []
    for file in files:
        target = target_dir / file.name
        if target.is_file() and mismatched_digest(target, file.sha256) is None:
            logger.info("%s already present and verified", target)
        else:
            pending.append(file)

    plain = [f for f in pending if f.member is None]
    archives: dict[str, list[RemoteFile]] = {}
    for file in pending:
        if file.member is not None:
            archives.setdefault(file.url, []).append(file)

    for file in plain:
        with atomic_path(target_dir / file.name) as tmp:
            _fetch(file.url, tmp, file.name, progress)
            _check(tmp, file)
        logger.info("verified %s", target_dir / file.name)

    for url, members in archives.items():
        with tempfile.TemporaryDirectory(prefix=".download.", dir=target_dir) as scratch:
            archive = Path(scratch) / "archive.zip"
            _fetch(url, archive, url.rsplit("/", 1)[-1] or url, progress)
            try:
                with zipfile.ZipFile(archive) as zf:
                    names = set(zf.namelist())
                    for file in members:
                        if file.member not in names:
                            raise DownloadError(f"archive has no member {file.member!r} (wanted for {file.name})",
                                                path=url)
                    for file in members:
                        with atomic_path(target_dir / file.name) as tmp:
                            with zf.open(str(file.member)) as src, open(tmp, "wb") as out:
                                shutil.copyfileobj(src, out, _CHUNK)
                            _check(tmp, file)
                        logger.info("verified %s", target_dir / file.name)
            except zipfile.BadZipFile as exc:
                raise DownloadError(f"not a valid zip archive: {exc}", path=url) from exc
    return target_dir


def locate_dataset(
    folder: str,
    files: Sequence[RemoteFile],
    *,
    download: bool = True,
    verify_checksums: bool = True,
    progress: bool = True,
) -> Path:
    """Find ``folder`` on the search path (verifying checksums), or download it into the cache."""
    search = data_search_path()
    found = find_dataset(folder, files, search)
    if found is not None:
        if verify_checksums:
            for file in files:
                actual = mismatched_digest(found / file.name, file.sha256)
                if actual is not None:
                    raise DatasetError(
                        f"local copy differs from the published one (SHA256 expected {file.sha256.lower()}, "
                        f"got {actual}); pass verify_checksums=False (--no-verify) to use it anyway",
                        path=found / file.name,
                    )
        return found
    if download:
        return download_dataset(folder, files, cache_dir(), progress=progress)
    searched = "; ".join(
        f"{Path(d) / folder} (missing {', '.join(f.name for f in files if not (Path(d) / folder / f.name).is_file())})"
        for d in search
    )
    raise DatasetError(
        f"dataset {folder!r} not found and download is disabled; searched: {searched}. "
        f"Put the files in <dir>/{folder}/ and set KGREC_DATA_DIR=<dir>, or allow download"
    )


def where_found(folder: str, files: Sequence[RemoteFile]) -> str:
    """Where ``folder`` is found on the search path, or where it would be downloaded to (for ``data list``)."""
    found = find_dataset(folder, files)
    if found is not None:
        return str(found)
    return f"not found: will be downloaded to {cache_dir() / folder}"
