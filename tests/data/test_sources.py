"""Tests for kgrec.data.sources: search path, lookup, download over HTTP / file://, checksums, resume, locking."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
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
    """A file server over a temporary directory that counts requests per path and records Range headers.

    Tests flip its knobs between calls: ``ranges`` (answer Range with 206 / 416, or ignore it), ``etags``
    (send a strong ETag and honour If-Range), ``cut_after`` (announce the full Content-Length but close
    after that many body bytes), ``delay`` (seconds per 16 KiB chunk) and ``hold_after`` (stall after that
    many body bytes until ``release`` is set).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        self.seen: list[tuple[str, str | None, str | None]] = []  # (path, Range, If-Range) per request
        self.ranges = True
        self.etags = True
        self.cut_after: int | None = None
        self.delay = 0.0
        self.hold_after: int | None = None
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                server.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def etag(self, data: bytes) -> str:
        return f'"{sha(data)[:16]}"'

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        """Serve ``root/<path>``: 404, 416, a 206 for a satisfiable (If-)Range, else a 200."""
        self.requests[handler.path] += 1
        self.seen.append((handler.path, handler.headers.get("Range"), handler.headers.get("If-Range")))
        file = self.root / urllib.parse.unquote(handler.path.lstrip("/"))  # "dbo%3Agenre" is the file dbo:genre
        if not file.is_file():
            handler.send_error(404, "File not found")
            return
        data = file.read_bytes()
        wanted = handler.headers.get("Range")
        start = 0
        if self.ranges and wanted and handler.headers.get("If-Range", self.etag(data)) == self.etag(data):
            start = int(wanted.removeprefix("bytes=").removesuffix("-"))
            if start >= len(data):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(data)}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
        handler.send_response(206 if start else 200)
        handler.send_header("Content-Length", str(len(data) - start))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if self.etags:
            handler.send_header("ETag", self.etag(data))
        handler.end_headers()
        body = data[start:] if self.cut_after is None else data[start:start + self.cut_after]
        try:
            for offset in range(0, len(body), 1 << 14):
                if self.hold_after is not None and offset >= self.hold_after:
                    self.release.wait(timeout=20)
                handler.wfile.write(body[offset:offset + (1 << 14)])
                handler.wfile.flush()
                time.sleep(self.delay)
        except OSError:  # the client went away (killed on purpose)
            pass

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.release.set()
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


# ---------------------------------------------------------------- interrupted downloads, resume, concurrency

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: several 16 KiB chunks of the test server
HALF = len(PAYLOAD) // 2


def leftovers(directory: Path) -> list[str]:
    """Hidden files in ``directory``: partial downloads, sidecars, temporaries, the lock."""
    return [name for name in listing(directory) if name.startswith(".")]


def interrupted(server: Server, tmp_path: Path, name: str = "big.bin", data: bytes = PAYLOAD) -> RemoteFile:
    """Serve ``data`` as ``name``, let a first download die halfway, and check what it left behind."""
    (server.root / name).write_bytes(data)
    file = RemoteFile(name, server.url(name), sha(data))
    server.cut_after = len(data) // 2
    with pytest.raises(DownloadError) as info:
        download_dataset("ds", [file], tmp_path, progress=False)
    server.cut_after = None
    message = str(info.value)
    assert "\n" not in message and file.url in message
    assert f"after {len(data) // 2} of {len(data)} bytes" in message and "resumes" in message
    assert not (tmp_path / "ds" / name).exists()
    assert (tmp_path / "ds" / f".{name}.part").read_bytes() == data[: len(data) // 2]
    return file


def test_connection_closed_halfway_keeps_partial_and_next_call_resumes(server: Server, tmp_path: Path) -> None:
    file = interrupted(server, tmp_path)
    out = download_dataset("ds", [file], tmp_path, progress=False)
    assert server.seen == [("/big.bin", None, None), ("/big.bin", f"bytes={HALF}-", server.etag(PAYLOAD))]
    assert sha256_of(out / "big.bin") == sha(PAYLOAD)
    assert listing(out) == ["big.bin"]  # no partial, sidecar or lock file left


def test_server_ignoring_range_restarts_from_zero(server: Server, tmp_path: Path) -> None:
    file = interrupted(server, tmp_path)
    server.ranges = False
    out = download_dataset("ds", [file], tmp_path, progress=False)
    assert server.seen[-1][1] == f"bytes={HALF}-"  # asked for the rest, got the whole file (200)
    assert (out / "big.bin").read_bytes() == PAYLOAD  # not the first half twice
    assert listing(out) == ["big.bin"]


@pytest.mark.parametrize(
    ("etags", "new", "asked"),
    [
        (True, b"v2 " * 1000, 2),  # If-Range no longer matches: the server answers 200 with the new file
        (False, b"v2 " * 1000, 3),  # no validator, file now shorter than the kept half: 416, then from zero
        (False, PAYLOAD + b"v2", 3),  # no validator, 206 of a body of another length: dropped, then from zero
    ],
    ids=["if-range-mismatch-200", "no-validator-416", "no-validator-length-changed"],
)
def test_file_changed_on_server_restarts_from_zero(
    server: Server, tmp_path: Path, etags: bool, new: bytes, asked: int
) -> None:
    server.etags = etags
    interrupted(server, tmp_path)
    (server.root / "big.bin").write_bytes(new)
    file = RemoteFile("big.bin", server.url("big.bin"), sha(new))
    out = download_dataset("ds", [file], tmp_path, progress=False)
    assert server.seen[1] == ("/big.bin", f"bytes={HALF}-", server.etag(PAYLOAD) if etags else None)
    assert len(server.seen) == asked and server.seen[-1][1] == (f"bytes={HALF}-" if asked == 2 else None)
    assert (out / "big.bin").read_bytes() == new
    assert listing(out) == ["big.bin"]


def test_corrupt_partial_is_deleted_on_mismatch_and_next_call_succeeds(server: Server, tmp_path: Path) -> None:
    file = interrupted(server, tmp_path)
    partial = tmp_path / "ds" / ".big.bin.part"
    partial.write_bytes(b"\0" * HALF)  # same length, wrong bytes: the server resumes after them
    spliced = b"\0" * HALF + PAYLOAD[HALF:]
    with pytest.raises(DownloadError) as info:
        download_dataset("ds", [file], tmp_path, progress=False)
    message = str(info.value)
    assert file.url in message and sha(PAYLOAD) in message and sha(spliced) in message
    assert listing(tmp_path / "ds") == []  # partial and sidecar deleted: they cannot poison the next try
    out = download_dataset("ds", [file], tmp_path, progress=False)
    assert [rng for _, rng, _ in server.seen] == [None, f"bytes={HALF}-", None]  # third call from zero
    assert sha256_of(out / "big.bin") == sha(PAYLOAD)


def test_archive_download_resumes(server: Server, tmp_path: Path) -> None:
    members = {"inner/big.bin": os.urandom(200_000), "inner/kg.txt": KG}  # random: the zip stays large
    archive = zip_bytes(members)
    interrupted(server, tmp_path, "bundle.zip", archive)
    url = server.url("bundle.zip")
    files = [RemoteFile(n.split("/")[1], url, sha(d), member=n) for n, d in members.items()]
    out = download_dataset("ds", files, tmp_path, progress=False)
    assert server.seen[-1][1] == f"bytes={len(archive) // 2}-"
    assert all(sha256_of(out / f.name) == f.sha256 for f in files)
    assert listing(out) == ["big.bin", "kg.txt"]  # the archive is gone once extracted


def test_files_in_a_subfolder_download_there(server: Server, tmp_path: Path) -> None:
    """lastfm-dbpedia's ``graphs/dbo:genre.edgelist``: fetched from ``graphs/dbo%3Agenre.edgelist`` (HTTP and
    file://), resumed and renamed inside ``graphs/``, beside a member of an archive at the top."""
    (server.root / "graphs").mkdir()
    (server.root / "graphs" / "dbo:genre.edgelist").write_bytes(PAYLOAD)
    (server.root / "bundle.zip").write_bytes(zip_bytes({"user_artists.dat": RATINGS}))
    local = tmp_path / "mirror" / "graphs" / "dbo:bandMember.edgelist"
    local.parent.mkdir(parents=True)
    local.write_bytes(KG)
    files = [
        RemoteFile("graphs/dbo:genre.edgelist", server.url("graphs/dbo%3Agenre.edgelist"), sha(PAYLOAD)),
        RemoteFile("graphs/dbo:bandMember.edgelist", local.parent.as_uri() + "/dbo%3AbandMember.edgelist", sha(KG)),
        RemoteFile("user_artists.dat", server.url("bundle.zip"), sha(RATINGS), member="user_artists.dat"),
    ]
    server.cut_after = HALF
    with pytest.raises(DownloadError):
        download_dataset("ds", files, tmp_path, progress=False)
    server.cut_after = None
    graphs = tmp_path / "ds" / "graphs"
    assert leftovers(graphs) == [".dbo:genre.edgelist.part", ".dbo:genre.edgelist.part.json"]
    assert leftovers(tmp_path / "ds") == [] and not (graphs / "dbo:genre.edgelist").exists()
    out = download_dataset("ds", files, tmp_path, progress=False)
    assert server.seen[-2][:2] == ("/graphs/dbo%3Agenre.edgelist", f"bytes={HALF}-")  # resumed, then the zip
    assert (out / "graphs" / "dbo:genre.edgelist").read_bytes() == PAYLOAD
    assert (out / "graphs" / "dbo:bandMember.edgelist").read_bytes() == KG
    assert listing(out) == ["graphs", "user_artists.dat"]
    assert listing(out / "graphs") == ["dbo:bandMember.edgelist", "dbo:genre.edgelist"]
    assert find_dataset("ds", files, [tmp_path]) == out


def test_lastfm_dbpedia_canonical_urls() -> None:
    """entity2rec's files at the pinned commit (a colon escaped as %3A), user_artists.dat from HetRec's zip."""
    from kgrec.data.catalog import LASTFM_DBPEDIA, checksums

    urls = {file.name: (file.url, file.member) for file in LASTFM_DBPEDIA.files}
    base = "https://raw.githubusercontent.com/D2KLab/entity2rec/380c1599ea5825bbb650c248f25bf42385b619bc/datasets/LastFM/"
    assert urls["graphs/dbo:genre.edgelist"] == (base + "graphs/dbo%3Agenre.edgelist", None)
    assert urls["mappings.tsv"] == (base + "original/mappings.tsv", None)
    assert urls["user_artists.dat"] == ("https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
                                        "user_artists.dat")
    assert len(urls) == 12 and all(file.sha256 == checksums("lastfm-dbpedia")[file.name] for file in LASTFM_DBPEDIA.files)
    assert checksums("lastfm-dbpedia")["user_artists.dat"] == checksums("lastfm-kgcn")["user_artists.dat"]


def test_whole_but_unrenamed_partial_is_verified_without_refetching(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (server.root / "big.bin").write_bytes(PAYLOAD)
    file = RemoteFile("big.bin", server.url("big.bin"), sha(PAYLOAD))
    def ctrl_c(*args: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # Ctrl-C while the finished download is being hashed
        patch.setattr(sources, "_check", ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            download_dataset("ds", [file], tmp_path, progress=False)
    assert not (tmp_path / "ds" / "big.bin").exists()
    assert leftovers(tmp_path / "ds") == [".big.bin.part", ".big.bin.part.json"]
    out = download_dataset("ds", [file], tmp_path, progress=False)
    assert server.requests["/big.bin"] == 1
    assert sha256_of(out / "big.bin") == sha(PAYLOAD) and listing(out) == ["big.bin"]


def test_stale_temporaries_removed_when_download_starts(server: Server, tmp_path: Path) -> None:
    (server.root / "kg.txt").write_bytes(KG)
    stale = make_dataset(tmp_path, "ds", {".kg.txt.k1ll3d.tmp": b"half an extracted member"})
    download_dataset("ds", [RemoteFile("kg.txt", server.url("kg.txt"), sha(KG))], tmp_path, progress=False)
    assert listing(stale) == ["kg.txt"]


DOWNLOAD_SCRIPT = """
import json, logging, sys
from pathlib import Path
from kgrec.data.sources import RemoteFile, download_dataset
logging.basicConfig(level=logging.INFO, format="%(message)s")
files = [RemoteFile(**f) for f in json.loads(sys.argv[2])]
download_dataset("ds", files, Path(sys.argv[1]), progress=False)
"""


def spawn(target_root: Path, files: list[RemoteFile], log: Path) -> subprocess.Popen[bytes]:
    """Run download_dataset in a fresh Python process, logging (INFO) to ``log``."""
    with open(log, "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-c", DOWNLOAD_SCRIPT, str(target_root), json.dumps([asdict(f) for f in files])],
            stdout=subprocess.DEVNULL, stderr=err,
        )


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sigkill_mid_download_then_fresh_process_completes(server: Server, tmp_path: Path) -> None:
    (server.root / "big.bin").write_bytes(PAYLOAD)
    file = RemoteFile("big.bin", server.url("big.bin"), sha(PAYLOAD))
    final, partial = tmp_path / "ds" / "big.bin", tmp_path / "ds" / ".big.bin.part"
    bad: list[str] = []
    done = threading.Event()

    def watch() -> None:  # at no point may the final name hold a file that fails the checksum
        while not done.is_set():
            try:
                if sha(final.read_bytes()) != file.sha256:
                    bad.append("final file failed the checksum")
            except FileNotFoundError:
                pass
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    server.delay, server.hold_after = 0.005, HALF  # slow, then stalled halfway: the kill lands mid-body
    first = spawn(tmp_path, [file], tmp_path / "first.log")
    try:
        wait_until(lambda: partial.is_file() and partial.stat().st_size >= HALF // 2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    kept = partial.stat().st_size
    assert 0 < kept <= HALF and partial.read_bytes() == PAYLOAD[:kept] and not final.exists()
    server.delay, server.hold_after = 0.0, None
    second = spawn(tmp_path, [file], tmp_path / "second.log")
    assert second.wait(timeout=30) == 0, (tmp_path / "second.log").read_text()
    done.set()
    watcher.join(timeout=5)
    assert bad == []
    assert server.seen[-1] == ("/big.bin", f"bytes={kept}-", server.etag(PAYLOAD))
    assert sha256_of(final) == sha(PAYLOAD) and listing(tmp_path / "ds") == ["big.bin"]


def test_two_concurrent_processes_one_download(server: Server, tmp_path: Path) -> None:
    data = {"big.bin": PAYLOAD, "kg.txt": KG}
    for name, content in data.items():
        (server.root / name).write_bytes(content)
    files = [RemoteFile(name, server.url(name), sha(content)) for name, content in data.items()]
    server.hold_after = HALF  # the first process stalls mid-file while holding the folder
    first = spawn(tmp_path, files, tmp_path / "first.log")
    second = None
    try:
        wait_until(lambda: server.requests["/big.bin"] == 1)
        second = spawn(tmp_path, files, tmp_path / "second.log")
        wait_until(lambda: "waiting for another kgrec process" in (tmp_path / "second.log").read_text())
        server.release.set()
        assert first.wait(timeout=30) == 0, (tmp_path / "first.log").read_text()
        assert second.wait(timeout=30) == 0, (tmp_path / "second.log").read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
    assert server.requests == Counter({"/big.bin": 1, "/kg.txt": 1})  # the second found both verified
    out = tmp_path / "ds"
    assert listing(out) == ["big.bin", "kg.txt"]
    assert all(sha256_of(out / f.name) == f.sha256 for f in files)


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


def test_ml1m_dbpedia_downloads_its_mapping_subfolder(server: Server, isolated_env: Path) -> None:
    """The registered ml1m-dbpedia files, served like the pinned pearlm folder (the mirror's bytes): the split
    and id maps come from ``mapping/`` and land in ``mapping/``, every file verified against the shipped sums."""
    import shutil

    from kgrec.data.catalog import ML1M_DBPEDIA, PEARLM_ML1M
    from tests.conftest import SHARED_DATASETS, require_shared

    require_shared("ml1m-dbpedia")
    assert PEARLM_ML1M == (
        "https://raw.githubusercontent.com/Chris1nexus/pearlm/60bdbb11a090deebc7a64250d4fcb086969ef7f3/"
        "data/ml1m/preprocessed/"
    )
    names = sorted(file.name for file in ML1M_DBPEDIA.files)
    assert names == sorted(
        ["e_map.txt", "i2kg_map.txt", "kg_final.txt", "products.txt", "r_map.txt", "users.txt"]
        + [f"mapping/{name}" for name in ("train.txt.gz", "valid.txt.gz", "test.txt.gz", "user_mapping.txt",
                                          "product_mapping.txt")]
    )
    assert all(file.url == PEARLM_ML1M + file.name and file.member is None for file in ML1M_DBPEDIA.files)
    shutil.copytree(SHARED_DATASETS / "ml1m-dbpedia", server.root / "preprocessed")
    files = [RemoteFile(file.name, server.url("preprocessed/" + file.name), file.sha256) for file in ML1M_DBPEDIA.files]
    out = locate_dataset("ml1m-dbpedia", files, progress=False)
    assert out == isolated_env / "ml1m-dbpedia"
    assert listing(out / "mapping") == ["product_mapping.txt", "test.txt.gz", "train.txt.gz", "user_mapping.txt",
                                        "valid.txt.gz"]
    assert sorted(server.requests) == sorted(f"/preprocessed/{name}" for name in names)
    assert locate_dataset("ml1m-dbpedia", files, download=False) == out  # found and verified, not fetched again
    assert sum(server.requests.values()) == len(names)
