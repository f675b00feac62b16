"""Atomic writes: outputs appear complete or not at all (write to a temporary name, then rename)."""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

log = logging.getLogger(__name__)


def _umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync(path: Path) -> None:
    """Flush ``path`` to disk, so that after a crash the renamed file is complete, not merely present."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def remove_stale_temporaries(directory: str | os.PathLike[str], name: str) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files that killed writers of ``directory/name`` left behind.

    Only call it while no other process can be writing ``name`` (e.g. under a lock, or from the one process
    that owns the directory); returns the removed paths.
    """
    removed = []
    for stale in Path(directory).glob(f".{glob.escape(name)}.*.tmp"):
        log.info("removing %s left by an interrupted write", stale)
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a file for writing that replaces ``target`` atomically when the block exits without error."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp, open(tmp, mode, encoding=encoding, newline="" if encoding else None) as handle:
        yield handle


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_open(target, "w") as handle:
        handle.write(text)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the directory mkdir()'s permissions
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def safe_file_name(text: str) -> str:
    """``text`` with every character other than a letter, digit, ``-``, ``_`` or ``.`` replaced by ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def json_safe(value: Any) -> Any:
    """``value`` with NaN floats replaced by None, recursively, so that it serialises to valid JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8 (orjson): NaN and infinities as null, numpy numbers and arrays as
    JSON numbers and lists; the encoding of the service's answers and of the all-users export."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def atomic_write_json(path: str | os.PathLike[str], value: Any, indent: int = 2) -> None:
    """Write ``value`` as JSON (NaN as null, UTF-8 kept readable) atomically."""
    atomic_write_text(path, json.dumps(json_safe(value), indent=indent, ensure_ascii=False, default=str) + "\n")
