"""Helpers shared by the format tests: write a small file, expect a DatasetError at a file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kgrec.config import DataConfig
from kgrec.data.dataset import RecDataset
from kgrec.errors import DatasetError


def write(directory: Path, name: str, text: str | bytes) -> Path:
    """Write ``text`` (UTF-8) or raw bytes to ``directory/name`` and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def expect_dataset_error(
    loader: Callable[[Path, DataConfig], RecDataset], source: Path, path: Path, line: int | None, match: str = ""
) -> DatasetError:
    """Loading ``source`` must raise a DatasetError that names ``path`` and ``line`` in its fields and text."""
    with pytest.raises(DatasetError, match=match) as info:
        loader(source, DataConfig())
    error = info.value
    assert error.path == str(path)
    assert error.line == line
    assert (f"{path.name}:{line}:" if line is not None else f"{path.name}:") in str(error)
    return error
