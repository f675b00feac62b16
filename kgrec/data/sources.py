"""Find or download raw dataset files, verify their SHA256, and resolve the data-directory search path.

Raw files are looked up in ``$KGREC_DATA_DIR`` entries, then the download cache, then a ``shared/datasets``
folder beside a source checkout, so that pre-fetched copies are reused and nothing is downloaded twice.

A download never leaves a file that passes as complete. Bytes stream into ``.<name>.part`` in the target
folder (an archive into ``.<archive>.part``), with a ``.part.json`` sidecar recording the URL, the length
and the validator (strong ETag, else Last-Modified); only a whole file whose SHA256 matches is renamed to its
final name. An interrupted transfer (dropped connection, Ctrl-C, SIGKILL) keeps the partial file, and the
next attempt asks for the rest with ``Range`` and ``If-Range``; an answer other than the matching 206 (a 200
because Range was ignored or the file changed, a 416) restarts from zero. A checksum mismatch deletes the
partial file, so a bad one never poisons later attempts.

Concurrency: a call holds an exclusive ``fcntl.flock`` on ``<folder>/.download.lock`` for its whole run.
A lock, rather than per-process partial names, keeps the partial name fixed, which is what lets any later
process resume; a second process waits, then finds the files verified and fetches nothing. The kernel drops
the lock when its holder dies, so a killed process never leaves a stale lock, and whoever holds it may
delete leftover ``.<name>.*.tmp`` files (from extracting archive members) of dead processes. Platforms
without ``fcntl`` (Windows) get no cross-process lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kgrec.atomic import atomic_path, remove_stale_temporaries, safe_file_name
from kgrec.errors import DatasetError, DownloadError

try:
    import fcntl
except ImportError:  # Windows: no flock, see the module docstring
    fcntl = None  # type: ignore[assignment]

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
_LOCK_NAME = ".download.lock"


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


def _partial_path(folder: Path, name: str) -> Path:
    """The fixed, hidden name under which ``name`` is downloaded until it is whole and verified.

    A ``name`` in a subfolder (``graphs/dbo:genre.edgelist``) is downloaded in that subfolder
    (``graphs/.dbo:genre.edgelist.part``), so that the final rename stays within one directory.
    """
    target = folder / name
    return target.parent / f".{target.name}.part"


def _state_path(partial: Path) -> Path:
    """The sidecar recording which URL, length and validator the bytes in ``partial`` belong to."""
    return partial.with_name(partial.name + ".json")


def _discard(partial: Path) -> None:
    """Delete a partial download and its sidecar, so that a bad partial file never poisons a later attempt."""
    partial.unlink(missing_ok=True)
    _state_path(partial).unlink(missing_ok=True)


def _kept(partial: Path) -> str:
    """A note for error messages saying how much of ``partial`` the next attempt will resume from."""
    size = partial.stat().st_size if partial.is_file() else 0
    return f"; {size} bytes kept in {partial.name}, the next attempt resumes" if size else ""


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (it may have been unlinked meanwhile)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``folder/.download.lock``, waiting while another process downloads there.

    The lock file is unlinked on release while still held; a waiter that then wins the unlinked file sees
    that the path no longer names it and locks a fresh one, so the folder is left clean.
    """
    if fcntl is None:
        yield
        return
    path = folder / _LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("waiting for another kgrec process downloading into %s", folder)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _read_state(partial: Path) -> dict[str, Any]:
    """The sidecar of ``partial`` as a dict; empty when missing or unreadable (the file then starts afresh)."""
    try:
        state = json.loads(_state_path(partial).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(partial: Path, url: str, headers: Message, length: int | None) -> None:
    """Record what ``partial`` is being filled from (a torn write only costs a restart, so no atomic rename)."""
    etag = headers.get("ETag")
    validator = etag if etag and not etag.startswith("W/") else headers.get("Last-Modified")
    state = {"url": url, "length": length, "validator": validator}
    _state_path(partial).write_text(json.dumps(state), encoding="utf-8")


def _resume_point(url: str, partial: Path) -> tuple[int, int | None, str | None]:
    """``(bytes to keep, expected full length, If-Range validator)`` for continuing ``partial`` from ``url``.

    Bytes are only kept when the sidecar names the same URL and the file is not longer than the body.
    """
    size = partial.stat().st_size if partial.is_file() else 0
    state = _read_state(partial)
    length = state.get("length") if isinstance(state.get("length"), int) else None
    if size == 0 or state.get("url") != url or (length is not None and size > length):
        return 0, None, None
    validator = state.get("validator")
    return size, length, validator if isinstance(validator, str) else None


def _open(url: str, offset: int = 0, validator: str | None = None) -> Any:
    """Open ``url``, asking for the bytes from ``offset`` on (``If-Range`` the validator, when known)."""
    headers = {}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT)


def _continues(response: Any, offset: int, length: int | None) -> bool:
    """Whether ``response`` is a 206 carrying exactly the rest of a body of ``length`` bytes from ``offset``."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", "").strip())
    if response.status != 206 or match is None or int(match[1]) != offset:
        return False
    return length is None or match[2] == "*" or int(match[2]) == length


def _open_from(url: str, offset: int, length: int | None, validator: str | None) -> tuple[Any, int]:
    """Open ``url`` to continue at ``offset``; return the response and the offset its body really starts at.

    A 416, or any answer other than the requested range (a 200 when Range is ignored or If-Range no longer
    matches), restarts from zero.
    """
    if not offset:
        return _open(url), 0
    try:
        response = _open(url, offset, validator)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:
            raise
        exc.close()
        logger.info("%s: range from byte %d not satisfiable; restarting from zero", url, offset)
        return _open(url), 0
    if _continues(response, offset, length):
        logger.info("resuming %s at byte %d", url, offset)
        return response, offset
    if response.status == 206:  # some other range than the one asked for: start over
        response.close()
        return _open(url), 0
    logger.info("%s: server sent the whole file (range ignored or file changed); restarting from zero", url)
    return response, 0


def _receive(response: Any, url: str, partial: Path, offset: int, label: str, progress: bool) -> None:
    """Write the body of ``response`` into ``partial`` after its first ``offset`` bytes (from scratch when 0)."""
    header = response.headers.get("Content-Length")
    total = offset + int(header) if header and header.isdigit() else None
    read = getattr(response, "read1", response.read)  # read1: write what arrived, don't wait for a full chunk
    received = offset
    with open(partial, "ab" if offset else "wb") as out:
        if not offset:
            _write_state(partial, url, response.headers, total)
        with tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                  disable=not progress) as bar:
            while chunk := read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    if total is not None and received != total:
        raise DownloadError(f"download failed: body ended after {received} of {total} bytes{_kept(partial)}",
                            path=url)


def _reason(exc: BaseException) -> str:
    """A one-line description of a network or file error."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return " ".join(str(exc.reason).split())
    return " ".join(str(exc).split()) or type(exc).__name__


def _fetch(url: str, partial: Path, label: str, progress: bool) -> None:
    """Bring ``partial`` up to the whole body of ``url``, resuming what an earlier attempt left behind.

    Network failures become a one-line :class:`DownloadError` naming the URL; the bytes received so far stay
    in ``partial`` for the next attempt.
    """
    offset, length, validator = _resume_point(url, partial)
    if offset and offset == length:
        logger.info("%s was fully downloaded before; verifying it", url)
        return
    logger.info("downloading %s", url)
    try:
        response, offset = _open_from(url, offset, length, validator)
        with response:
            _receive(response, url, partial, offset, label, progress)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise DownloadError(f"download failed: {_reason(exc)}{_kept(partial)}", path=url) from exc


def _check(path: Path, file: RemoteFile, partial: Path) -> None:
    """Raise :class:`DownloadError` (naming URL, file and both digests) unless ``path`` matches ``file``.

    On a mismatch the partial download ``partial`` is deleted, so the next attempt starts from zero.
    """
    actual = mismatched_digest(path, file.sha256)
    if actual is not None:
        _discard(partial)
        raise DownloadError(
            f"SHA256 mismatch for {file.name}: expected {file.sha256.lower()}, got {actual}; "
            "the download was deleted, the next attempt starts afresh",
            path=file.url,
        )


def _download_file(file: RemoteFile, folder: Path, progress: bool) -> None:
    """Download ``file`` into ``.<name>.part``, verify the whole file, then rename it to its final name."""
    partial = _partial_path(folder, file.name)
    partial.parent.mkdir(parents=True, exist_ok=True)
    _fetch(file.url, partial, file.name, progress)
    _check(partial, file, partial)
    os.replace(partial, folder / file.name)
    _state_path(partial).unlink(missing_ok=True)
    logger.info("verified %s", folder / file.name)


def _archive_name(url: str) -> str:
    """A file name for the archive at ``url`` (its last path segment, made safe)."""
    return safe_file_name(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]) or "archive"


def _download_archive(url: str, members: Sequence[RemoteFile], folder: Path, progress: bool) -> None:
    """Fetch the zip archive at ``url`` once (resumably), then extract and verify each file of ``members``.

    The archive is deleted once its members are in place, or when it proves unusable (not a zip, a member
    missing or mismatching), so that the next attempt downloads it afresh.
    """
    name = _archive_name(url)
    partial = _partial_path(folder, name)
    _fetch(url, partial, name, progress)
    try:
        with zipfile.ZipFile(partial) as zf:
            names = set(zf.namelist())
            for file in members:
                if file.member not in names:
                    _discard(partial)
                    raise DownloadError(f"archive has no member {file.member!r} (wanted for {file.name})", path=url)
            for file in members:
                with atomic_path(folder / file.name) as tmp:
                    with zf.open(str(file.member)) as src, open(tmp, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                    _check(tmp, file, partial)
                logger.info("verified %s", folder / file.name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        _discard(partial)
        raise DownloadError(f"not a valid zip archive: {_reason(exc)}; deleted it, the next attempt starts afresh",
                            path=url) from exc
    _discard(partial)


def download_dataset(
    folder: str, files: Sequence[RemoteFile], target_root: Path | None = None, progress: bool = True
) -> Path:
    """Download and verify every file into ``<target_root or cache_dir()>/<folder>``; return that folder.

    Files already present with the right checksum are kept; each archive URL is fetched at most once. The
    folder is locked for the whole call, so a concurrent call waits and then finds the files in place.
    """
    target_dir = Path(target_root if target_root is not None else cache_dir()) / folder
    target_dir.mkdir(parents=True, exist_ok=True)
    with _folder_lock(target_dir):
        pending = []
        for file in files:
            target = target_dir / file.name
            if target.is_file() and mismatched_digest(target, file.sha256) is None:
                logger.info("%s already present and verified", target)
            else:
                remove_stale_temporaries(target.parent, target.name)  # under the folder lock: none is live
                pending.append(file)

        archives: dict[str, list[RemoteFile]] = {}
        for file in pending:
            if file.member is None:
                _download_file(file, target_dir, progress)
            else:
                archives.setdefault(file.url, []).append(file)
        for url, members in archives.items():
            _download_archive(url, members, target_dir, progress)
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
