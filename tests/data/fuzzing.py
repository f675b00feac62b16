"""Shared machinery of the fuzz modules: byte-level corruptions, the hang guard, the counts of generated inputs.

A file set maps ``(folder, file name)`` to ``(bytes, field separator)``. :func:`corruptions` draws one change of
one file (truncated lines, wrong separators, mixed encodings, BOM, CRLF, huge / negative ids, NaN ratings,
duplicate rows, self loops, relations with spaces, items files that disagree with the interactions, ...) and
:func:`corrupt` applies a list of them. Each fuzz test calls :func:`record` once per generated input; a module
that imports :func:`report_generated_inputs` prints ``fuzz: <parser>: N generated inputs (...)`` at its end.
``KGREC_FUZZ_EXAMPLES`` (default 250) scales every fuzz test's number of examples.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from kgrec.errors import DatasetError

FileKey = tuple[str, str]
FileSet = dict[FileKey, tuple[bytes, bytes]]
Contents = dict[FileKey, bytes | None]

# ---- files ---------------------------------------------------------------------------------------------------


def write_files(root: Path, files: Mapping[FileKey, bytes | None]) -> dict[str, Path]:
    """Write the files (None: leave missing) under root/<folder>/; return folder -> directory.

    A name may hold a subfolder (``graphs/dbo:genre.edgelist``): it is created too. A ``.gz`` file's
    contents are its uncompressed text (so corruptions apply to the text inside): it is written gzipped.
    """
    dirs: dict[str, Path] = {}
    for (folder, name), data in files.items():
        dirs[folder] = root / folder
        dirs[folder].mkdir(parents=True, exist_ok=True)
        if data is not None:
            (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
            (root / folder / name).write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return dirs


def file_key(path: str | os.PathLike[str], root: Path) -> FileKey:
    """The ``(folder, name)`` key of a file under ``root`` (``name`` may hold a subfolder: ``graphs/x``)."""
    parts = Path(path).relative_to(root).parts
    return (parts[0], "/".join(parts[1:])) if len(parts) > 1 else ("", parts[0])


def clean(files: FileSet) -> Contents:
    """The uncorrupted contents of a file set."""
    return {key: data for key, (data, _) in files.items()}


def replace_line(files: FileSet, key: FileKey, line: int, text: bytes) -> Contents:
    """The clean files with 1-based ``line`` of one file replaced by ``text``."""
    contents = clean(files)
    lines = files[key][0].split(b"\n")
    lines[line - 1] = text
    contents[key] = b"\n".join(lines)
    return contents


# ---- counting generated inputs -------------------------------------------------------------------------------

OUTCOMES: defaultdict[str, Counter[str]] = defaultdict(Counter)  # parser -> "loaded" / error class -> count


def record(parser: str, outcome: str) -> None:
    """Count one generated input of ``parser`` and what became of it ("loaded" or the error class name)."""
    OUTCOMES[parser][outcome] += 1


def summary_lines() -> list[str]:
    """One ``fuzz: <parser>: N generated inputs (a loaded, b <Error>)`` line per parser, sorted by name."""
    lines = []
    for parser, outcomes in sorted(OUTCOMES.items()):
        errors = [f"{n} {kind}" for kind, n in sorted(outcomes.items()) if kind != "loaded"]
        parts = [f"{outcomes['loaded']} loaded", *errors]
        lines.append(f"fuzz: {parser}: {sum(outcomes.values())} generated inputs ({', '.join(parts)})")
    return lines


@pytest.fixture(scope="module", autouse=True)
def report_generated_inputs(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the importing module, print how many inputs each parser got, then reset the counts."""
    yield
    lines = summary_lines()
    OUTCOMES.clear()
    if not lines:
        return
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")  # fd capture would swallow the lines during teardown
    write = reporter.write_line if reporter is not None else print
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        write("")
        for line in lines:
            write(line)


# ---- settings and the hang guard -----------------------------------------------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("KGREC_FUZZ_EXAMPLES", "250"))


def fuzz_settings(share: float = 1.0) -> settings:
    """Hypothesis settings for ``share`` × KGREC_FUZZ_EXAMPLES examples (at least one), no deadline."""
    return settings(
        max_examples=max(1, int(FUZZ_EXAMPLES * share)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when a parser takes longer than ``seconds`` on a tiny input."""

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"parser did not finish within {seconds} s")

    if not hasattr(signal, "SIGALRM"):  # Windows: no alarm; a hang then shows as a stuck test
        yield
        return
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---- corruptions ---------------------------------------------------------------------------------------------

SEPARATORS = [b"\t", b",", b" ", b"|", b"::", b";", b""]
TOKENS = [
    str(10**30), str(2**63), str(-(2**63) - 1), "-1", "-42", "0", "-0", "abc", "x1", "NaN", "nan", "inf", "-inf",
    "Infinity", "", " ", "1.5", "4.0", "1e3", "1e400", "0x1F", "007", "+2", "1_000", "99999", "\\N", "None", '"',
    '"quoted', 'a"b', "'", "a b", "has genre", "\u00e9", "\u00a0", "\u0661\u0662", "\ufeff1", "1\x00", "\x00",
    "\r", "\x0b", "\u2028", "#1", "u_1", "p_1", "g_1", "1", "3", "10", "1\u00b2", "x\u00b2", "9" * 5000,
]
INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
UNKNOWN_IDS = [b"424242", b"999", b"u_999", b"p_999", b"g_999", b"-1"]
RELATIONS_WITH_SPACES = [b"has genre", b" film.film.writer ", b"music artist origin", b" "]
ENCODINGS = ["latin-1", "cp1252", "utf-16-le", "utf-8"]
ACCENTS = ["\u00e9", "M\u00fcller", "\u20ac", "na\u00efve", "\u00df", "\u00c5ngstr\u00f6m", "\u2019"]
OPS = (
    "truncate", "drop_field", "add_field", "swap_sep", "insert_bytes", "insert_text", "invalid_utf8", "bom",
    "crlf", "lone_cr", "nul", "replace_field", "duplicate_row", "self_loop", "relation_space", "unknown_id",
    "delete_line", "swap_lines", "empty", "blank_lines", "drop_header", "missing", "huge_id", "negative_id",
    "bad_number", "mixed_encoding", "disagreeing_items",
)


class ItemFile(NamedTuple):
    """Where an items / names / links file keeps its item ids, and what the file means to its format.

    ``roles``: "catalogue" (every listed item is an item), "names" (display names of listed items), "links"
    (an item is linked iff listed), "cover" (every item the other files refer to must be listed).
    """

    id_field: int
    header: int = 0
    name_field: int | None = None
    roles: frozenset[str] = frozenset()


class Disagreement(NamedTuple):
    """Rows (data-row indices) an items file loses, and copies of rows it gains under new item ids."""

    item: ItemFile
    drops: tuple[int, ...]
    adds: tuple[tuple[int, bytes], ...]


class Corruption(NamedTuple):
    file: FileKey
    op: str
    line: int
    field: int
    pos: int
    payload: Any


NEW_ITEM_IDS = st.integers(100_000, 100_099).map(lambda n: str(n).encode())


@st.composite
def disagreements(draw: st.DrawFn, item: ItemFile) -> Disagreement:
    """Drop up to two rows and add up to two rows with distinct new ids (at least one change)."""
    drops = tuple(draw(st.lists(st.integers(0, 40), max_size=2)))
    new_rows = st.lists(
        st.tuples(st.integers(0, 40), NEW_ITEM_IDS), min_size=0 if drops else 1, max_size=2, unique_by=lambda t: t[1]
    )
    adds = tuple(draw(new_rows))
    return Disagreement(item, drops, adds)


@st.composite
def corruptions(
    draw: st.DrawFn, keys: list[FileKey], items: Mapping[FileKey, ItemFile] | None = None
) -> Corruption:
    """One change of one of the files ``keys``; ``items`` are the files "disagreeing_items" may change."""
    ops = OPS if items else tuple(op for op in OPS if op != "disagreeing_items")
    op = draw(st.sampled_from(ops))
    key = draw(st.sampled_from(sorted(items) if op == "disagreeing_items" and items else keys))
    payload: Any = None
    if op == "insert_bytes":
        payload = draw(st.binary(min_size=1, max_size=12))
    elif op == "insert_text":
        payload = draw(st.text(min_size=1, max_size=12)).encode("utf-8", "surrogatepass")
    elif op in ("add_field", "replace_field"):
        payload = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=10))).encode("utf-8", "surrogatepass")
    elif op == "swap_sep":
        payload = (draw(st.sampled_from(SEPARATORS)), draw(st.booleans()))
    elif op == "invalid_utf8":
        payload = draw(st.sampled_from(INVALID_UTF8))
    elif op == "unknown_id":
        payload = draw(st.sampled_from(UNKNOWN_IDS))
    elif op == "relation_space":
        payload = draw(st.sampled_from(RELATIONS_WITH_SPACES))
    elif op == "huge_id":
        payload = draw(st.sampled_from([10**30, 2**63, 2**64, 10**400, -(10**30)]))
    elif op == "negative_id":
        payload = draw(st.integers(-(10**6), -1))
    elif op == "bad_number":
        payload = draw(st.sampled_from([b"NaN", b"nan", b"inf", b"-inf", b"", b"abc", b"1e400", b"--1", b"1.2.3"]))
    elif op == "mixed_encoding":
        payload = (draw(st.sampled_from(ENCODINGS)), draw(st.sampled_from(ACCENTS)), draw(st.booleans()))
    elif op == "disagreeing_items":
        payload = draw(disagreements(items[key]))  # type: ignore[index]
    return Corruption(key, op, draw(st.integers(0, 40)), draw(st.integers(0, 30)), draw(st.integers(0, 400)), payload)


def _pick_line(lines: list[bytes], index: int) -> int:
    candidates = [i for i, line in enumerate(lines) if line.strip()] or list(range(len(lines)))
    return candidates[index % len(candidates)]


def native_encoding(data: bytes) -> str:
    """The encoding a tiny file is written in: UTF-8 if it decodes as such, else Latin-1 (MovieLens' u.item)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def reencode(chunk: bytes, native: str, payload: tuple[str, str, bool], pos: int) -> bytes:
    """``chunk`` with a non-ASCII word inserted, written in another encoding than the file's ``native`` one."""
    target, accent, _ = payload
    if target == native:
        target = "utf-16-le"
    text = chunk.decode(native, errors="replace")
    at = pos % (len(text) + 1)
    return (text[:at] + accent + text[at:]).encode(target, errors="replace")


def disagree(lines: list[bytes], sep: bytes, change: Disagreement) -> list[bytes]:
    """The lines of an items file without some data rows and with copies of others under new ids."""
    head = lines[: change.item.header]
    rows = [line for line in lines[change.item.header :] if line.strip()]
    if not rows:
        return lines
    copies = []
    for index, new_id in change.adds:
        fields = rows[index % len(rows)].split(sep)
        fields[min(change.item.id_field, len(fields) - 1)] = new_id
        copies.append(sep.join(fields))
    dropped = {index % len(rows) for index in change.drops}
    if len(dropped) >= len(rows):  # keep one row: an empty items file is another corruption
        dropped.discard(min(dropped))
    kept = [row for position, row in enumerate(rows) if position not in dropped]
    return head + kept + copies + [b""]


def apply(data: bytes | None, sep: bytes, c: Corruption) -> bytes | None:
    """One corruption of a file's bytes (None: the file is missing)."""
    if c.op == "missing":
        return None
    data = data or b""
    if c.op == "empty":
        return b""
    if c.op == "bom":
        return b"\xef\xbb\xbf" + data
    if c.op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if c.op in ("insert_bytes", "insert_text", "invalid_utf8", "lone_cr", "nul"):
        insert = {"lone_cr": b"\r", "nul": b"\x00"}.get(c.op, c.payload)
        at = c.pos % (len(data) + 1)
        return data[:at] + insert + data[at:]
    if c.op == "swap_sep" and c.payload[1]:
        return data.replace(sep, c.payload[0])
    lines = data.split(b"\n")
    if c.op == "disagreeing_items":
        return b"\n".join(disagree(lines, sep, c.payload))
    i = _pick_line(lines, c.line)
    line = lines[i]
    fields = line.split(sep) if sep else [line]
    j = c.field % len(fields)
    if c.op == "truncate":
        lines[i] = line[: c.pos % (len(line) + 1)]
    elif c.op == "drop_field":
        del fields[j]
        lines[i] = sep.join(fields)
    elif c.op == "add_field":
        fields.insert(c.field % (len(fields) + 1), c.payload)
        lines[i] = sep.join(fields)
    elif c.op == "swap_sep":
        lines[i] = line.replace(sep, c.payload[0]) if sep else line
    elif c.op in ("replace_field", "unknown_id", "bad_number"):
        fields[j] = c.payload
        lines[i] = sep.join(fields)
    elif c.op in ("huge_id", "negative_id"):
        fields[j] = str(c.payload).encode()
        lines[i] = sep.join(fields)
    elif c.op == "duplicate_row":
        lines.insert(i + 1 if c.pos % 2 else len(lines), line)
    elif c.op == "self_loop":
        if len(fields) >= 3:
            fields[2] = fields[0]
        lines[i] = sep.join(fields)
    elif c.op == "relation_space":
        fields[min(1, len(fields) - 1)] = c.payload
        lines[i] = sep.join(fields)
    elif c.op == "delete_line":
        del lines[i]
    elif c.op == "swap_lines":
        k = c.field % len(lines)
        lines[i], lines[k] = lines[k], lines[i]
    elif c.op == "blank_lines":
        lines.insert(i, b"  \t")
        lines.insert(i, b"")
    elif c.op == "drop_header":
        del lines[0]
    elif c.op == "mixed_encoding":
        native = native_encoding(data)
        if c.payload[2] or len(fields) == 1:  # the whole line
            lines[i] = reencode(line, native, c.payload, c.pos)
        else:  # one field
            fields[j] = reencode(fields[j], native, c.payload, c.pos)
            lines[i] = sep.join(fields)
    else:  # pragma: no cover - every op is handled above
        raise AssertionError(c.op)
    return b"\n".join(lines)


def corrupt(files: FileSet, changes: list[Corruption]) -> Contents:
    """The clean files with every change applied, in order."""
    contents = clean(files)
    for change in changes:
        contents[change.file] = apply(contents[change.file], files[change.file][1], change)
    return contents


# ---- the DatasetError contract -------------------------------------------------------------------------------


def check_error(
    error: DatasetError, root: Path, contents: Mapping[FileKey, bytes | None], by_path: bool = False
) -> None:
    """A DatasetError must name one of the dataset's files, start its message with it and point at a real line.

    A generic format (``by_path``) discovers its files by name, so it may also name the directory or a file of
    it that the tiny dataset does not have (e.g. ``interactions.tsv`` when train.tsv went missing).
    """
    assert error.path is not None, f"DatasetError without a path: {error}"
    path = Path(error.path)
    assert path.is_relative_to(root) and path != root, f"DatasetError names {error.path}, outside the dataset"
    key = file_key(path, root)
    folders = {folder for folder, _ in contents}
    named_ok = key in contents or (
        by_path and (path.parent.name in folders or (path.parent == root and path.name in folders))
    )
    assert path.parent.parent == root or path.parent == root or key in contents, (
        f"DatasetError names {error.path}, outside the dataset"
    )
    assert named_ok, f"DatasetError names {error.path}, not a dataset file"
    assert str(error).startswith(f"{error.path}:"), str(error)
    assert error.reason and error.reason.strip(), "empty error message"
    assert "\n" not in str(error), f"a DatasetError message is one line: {error}"
    if error.line is not None:
        assert key in contents, f"line {error.line} of {path.name}, which the dataset does not have"
        data = contents[key]
        assert data is not None, f"line {error.line} of a missing file"
        assert 1 <= error.line <= data.count(b"\n") + 1, f"line {error.line} is not a line of {path.name}"
        assert str(error).startswith(f"{error.path}:{error.line}: ")


Loaded = TypeVar("Loaded")


def load_files(label: str, contents: Contents, load: Callable[[Path], Loaded], by_path: bool = False) -> Loaded | DatasetError:
    """Write ``contents`` into a fresh directory and ``load`` it under the time limit, counting the input under
    ``label``; a DatasetError is checked (:func:`check_error`) and returned, anything else is the caller's to check."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_files(root, contents)
        try:
            with time_limit(20):
                loaded = load(root)
        except DatasetError as error:
            record(label, "DatasetError")
            check_error(error, root, contents, by_path)
            return error
    record(label, "loaded")
    return loaded
