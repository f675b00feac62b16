"""Tests for kgrec.data.sources: search path, lookup, download over HTTP / file://, checksum handling."""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import io
import os
import sys
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgrec.data import sources
from kgrec.data.sources import (
    RemoteFile,
    cache_dir,
    data_search_path,
    download_dataset,
    find_dataset,
    locate_dataset,
    sha256_of,
    verify,
    where_found,
)
from kgrec.errors import DatasetError, DownloadError

KG = b"1\t2\t3\n4\t5\t6\n"
RATINGS = b"u1,i1,5\nu2,i1,3\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """A static file server over a temporary directory that counts requests per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        counter = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                counter[self.path] += 1
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache into tmp_path, clear KGREC_DATA_DIR and pretend there is no checkout."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("KGREC_CACHE_DIR", str(cache))
    monkeypatch.delenv("KGREC_DATA_DIR", raising=False)
    monkeypatch.setattr(sources, "project_root", lambda: None)
    return cache


def make_dataset(root: Path, folder: str, files: dict[str, bytes]) -> Path:
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------- search path


def test_search_path_order_data_dir_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    checkout = tmp_path / "work" / "main"
    monkeypatch.setattr(sources, "project_root", lambda: checkout)
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("KGREC_DATA_DIR", os.pathsep.join([str(a), "", str(b), str(a)]))
    assert data_search_path() == [a, b, isolated_env, tmp_path / "work" / "shared" / "datasets"]


def test_search_path_without_checkout_or_env(isolated_env: Path) -> None:
    assert data_search_path() == [isolated_env]


def test_cache_dir_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGREC_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "kgrec"
    monkeypatch.setattr(sources, "project_root", lambda: tmp_path / "repo")
    assert cache_dir() == tmp_path / "repo" / "data"


def test_project_root_detects_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "kgrec" / "data").mkdir(parents=True)
    copy = repo / "kgrec" / "data" / "sources.py"
    copy.write_text(Path(sources.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("kgrec_sources_copy", copy)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.project_root() is None  # no pyproject.toml yet
    (repo / "pyproject.toml").write_text("[project]\nname = 'kgrec'\n", encoding="utf-8")
    assert module.project_root() == repo.resolve()


def test_data_dir_takes_precedence_over_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              isolated_env: Path) -> None:
    files = [RemoteFile("kg.txt", "http://invalid/kg.txt", sha(KG))]
    make_dataset(isolated_env, "ds", {"kg.txt": KG})
    local = make_dataset(tmp_path / "local", "ds", {"kg.txt": KG})
    assert find_dataset("ds", files) == isolated_env / "ds"
    monkeypatch.setenv("KGREC_DATA_DIR", str(tmp_path / "local"))
    assert find_dataset("ds", files) == local
    assert where_found("ds", files) == str(local)


def test_found_in_second_directory_when_first_is_incomplete(tmp_path: Path) -> None:
    files = [RemoteFile("kg.txt", "x", sha(KG)), RemoteFile("ratings.csv", "x", sha(RATINGS))]
    make_dataset(tmp_path / "one", "ds", {"kg.txt": KG})  # missing ratings.csv
    second = make_dataset(tmp_path / "two", "ds", {"kg.txt": KG, "ratings.csv": RATINGS})
    assert find_dataset("ds", files, [tmp_path / "one", tmp_path / "two"]) == second
    assert find_dataset("ds", files, [tmp_path / "one"]) is None


def test_where_found_not_found_names_download_target(isolated_env: Path) -> None:
    files = [RemoteFile("kg.txt", "x", sha(KG))]
    assert where_found("ds", files) == f"not found: will be downloaded to {isolated_env / 'ds'}"


# ---------------------------------------------------------------- hashing


def test_sha256_of_and_verify(tmp_path: Path) -> None:
    big = os.urandom(3 * (1 << 20) + 17)  # spans several 1 MiB chunks
    path = tmp_path / "big.bin"
    path.write_bytes(big)
    assert sha256_of(path) == sha(big)
    verify(path, sha(big))
    verify(path, sha(big).upper())
    with pytest.raises(DownloadError) as info:
        verify(path, sha(b"other"))
    message = str(info.value)
    assert "big.bin" in message and sha(b"other") in message and sha(big) in message


# ---------------------------------------------------------------- downloads


def test_download_plain_files_over_http(server: Server, tmp_path: Path) -> None:
    (server.root / "kg.txt").write_bytes(KG)
    (server.root / "ratings.csv").write_bytes(RATINGS)
    files = [
        RemoteFile("kg.txt", server.url("kg.txt"), sha(KG)),
        RemoteFile("ratings.csv", server.url("ratings.csv"), sha(RATINGS)),
    ]
    out = download_dataset("ds", files, tmp_path / "target", progress=False)
    assert out == tmp_path / "target" / "ds"
    assert (out / "kg.txt").read_bytes() == KG
    assert (out / "ratings.csv").read_bytes() == RATINGS
    assert listing(out) == ["kg.txt", "ratings.csv"]
    assert server.requests == Counter({"/kg.txt": 1, "/ratings.csv": 1})


def test_download_via_file_url(tmp_path: Path, isolated_env: Path) -> None:
    src = tmp_path / "src.txt"
    src.write_bytes(KG)
    files = [RemoteFile("kg.txt", src.as_uri(), sha(KG))]
    out = download_dataset("ds", files, progress=False)
    assert out == isolated_env / "ds"
    assert (out / "kg.txt").read_bytes() == KG


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_two_members_from_one_archive_fetched_once(server: Server, tmp_path: Path) -> None:
    (server.root / "bundle.zip").write_bytes(zip_bytes({"inner/kg.txt": KG, "inner/ratings.csv": RATINGS}))
    url = server.url("bundle.zip")
    files = [
        RemoteFile("kg.txt", url, sha(KG), member="inner/kg.txt"),
        RemoteFile("ratings.csv", url, sha(RATINGS), member="inner/ratings.csv"),
    ]
    out = download_dataset("ds", files, tmp_path, progress=False)
    assert (out / "kg.txt").read_bytes() == KG
    assert (out / "ratings.csv").read_bytes() == RATINGS
    assert server.requests["/bundle.zip"] == 1
    assert listing(out) == ["kg.txt", "ratings.csv"]  # archive and scratch space removed


def test_checksum_mismatch_leaves_nothing(server: Server, tmp_path: Path) -> None:
    (server.root / "kg.txt").write_bytes(KG)
    wrong = sha(b"not the kg")
    url = server.url("kg.txt")
    with pytest.raises(DownloadError) as info:
        download_dataset("ds", [RemoteFile("kg.txt", url, wrong)], tmp_path, progress=False)
    message = str(info.value)
    assert url in message and "kg.txt" in message and wrong in message and sha(KG) in message
    assert "SHA256 mismatch" in message
    assert listing(tmp_path / "ds") == []


def test_archive_member_checksum_mismatch_leaves_nothing(server: Server, tmp_path: Path) -> None:
    (server.root / "bundle.zip").write_bytes(zip_bytes({"kg.txt": KG}))
    wrong = sha(b"x")
    with pytest.raises(DownloadError, match=wrong):
        download_dataset("ds", [RemoteFile("kg.txt", server.url("bundle.zip"), wrong, "kg.txt")], tmp_path,
                         progress=False)
    assert listing(tmp_path / "ds") == []


def test_http_404_names_url(server: Server, tmp_path: Path) -> None:
    url = server.url("missing.txt")
    with pytest.raises(DownloadError) as info:
        download_dataset("ds", [RemoteFile("kg.txt", url, sha(KG))], tmp_path, progress=False)
    assert url in str(info.value) and "404" in str(info.value)
    assert listing(tmp_path / "ds") == []


def test_connection_refused_is_download_error(tmp_path: Path) -> None:
    probe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens on this port now
    url = f"http://127.0.0.1:{port}/kg.txt"
    with pytest.raises(DownloadError, match="127.0.0.1"):
        download_dataset("ds", [RemoteFile("kg.txt", url, sha(KG))], tmp_path, progress=False)


def test_missing_archive_member(server: Server, tmp_path: Path) -> None:
    (server.root / "bundle.zip").write_bytes(zip_bytes({"kg.txt": KG}))
    url = server.url("bundle.zip")
    with pytest.raises(DownloadError) as info:
        download_dataset("ds", [RemoteFile("r.csv", url, sha(RATINGS), member="nope/r.csv")], tmp_path,
                         progress=False)
    assert url in str(info.value) and "nope/r.csv" in str(info.value)
    assert listing(tmp_path / "ds") == []


def test_present_verified_files_not_refetched(server: Server, tmp_path: Path) -> None:
    (server.root / "kg.txt").write_bytes(KG)
    (server.root / "ratings.csv").write_bytes(RATINGS)
    files = [
        RemoteFile("kg.txt", server.url("kg.txt"), sha(KG)),
        RemoteFile("ratings.csv", server.url("ratings.csv"), sha(RATINGS)),
    ]
    make_dataset(tmp_path, "ds", {"kg.txt": KG})
    download_dataset("ds", files, tmp_path, progress=False)
    assert server.requests == Counter({"/ratings.csv": 1})
    download_dataset("ds", files, tmp_path, progress=False)
    assert server.requests == Counter({"/ratings.csv": 1})


def test_corrupt_present_file_is_refetched(server: Server, tmp_path: Path) -> None:
    (server.root / "kg.txt").write_bytes(KG)
    make_dataset(tmp_path, "ds", {"kg.txt": b"truncated"})
    download_dataset("ds", [RemoteFile("kg.txt", server.url("kg.txt"), sha(KG))], tmp_path, progress=False)
    assert (tmp_path / "ds" / "kg.txt").read_bytes() == KG
    assert server.requests["/kg.txt"] == 1


# ---------------------------------------------------------------- locate_dataset


def test_locate_without_download_lists_searched_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     isolated_env: Path) -> None:
    monkeypatch.setenv("KGREC_DATA_DIR", str(tmp_path / "mine"))
    files = [RemoteFile("kg.txt", "http://invalid/kg.txt", sha(KG))]
    with pytest.raises(DatasetError) as info:
        locate_dataset("ds", files, download=False)
    message = str(info.value)
    assert str(tmp_path / "mine" / "ds") in message
    assert str(isolated_env / "ds") in message
    assert "kg.txt" in message and "KGREC_DATA_DIR" in message
    assert not isinstance(info.value, DownloadError)


def test_locate_downloads_into_cache(server: Server, isolated_env: Path) -> None:
    (server.root / "kg.txt").write_bytes(KG)
    files = [RemoteFile("kg.txt", server.url("kg.txt"), sha(KG))]
    out = locate_dataset("ds", files, progress=False)
    assert out == isolated_env / "ds" and (out / "kg.txt").read_bytes() == KG
    assert locate_dataset("ds", files, progress=False) == out
    assert server.requests["/kg.txt"] == 1


def test_locate_tampered_copy_rejected_unless_unverified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = make_dataset(tmp_path / "mine", "ds", {"kg.txt": KG + b"7\t8\t9\n"})
    monkeypatch.setenv("KGREC_DATA_DIR", str(tmp_path / "mine"))
    files = [RemoteFile("kg.txt", "http://invalid/kg.txt", sha(KG))]
    with pytest.raises(DatasetError) as info:
        locate_dataset("ds", files, download=False)
    message = str(info.value)
    assert str(local / "kg.txt") in message and "differs" in message
    assert "verify_checksums=False" in message and "--no-verify" in message
    assert locate_dataset("ds", files, download=False, verify_checksums=False) == local


def test_locate_verified_local_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = make_dataset(tmp_path / "mine", "ds", {"kg.txt": KG})
    monkeypatch.setenv("KGREC_DATA_DIR", str(tmp_path / "mine"))
    files = [RemoteFile("kg.txt", "http://invalid/kg.txt", sha(KG))]
    assert locate_dataset("ds", files, download=False) == local
