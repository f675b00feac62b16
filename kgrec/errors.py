"""Typed exceptions: every error a user can cause names the file, line or id and what was expected."""

from __future__ import annotations

from os import PathLike


class KgrecError(Exception):
    """Base class of all errors kgrec raises on purpose; the CLI prints them as one line, exit code 2."""


class DatasetError(KgrecError):
    """A dataset file is missing, malformed or inconsistent.

    The message always starts with ``file:line:`` (or ``file:`` when no line applies) so that a user can
    jump straight to the culprit.
    """

    def __init__(self, message: str, path: str | PathLike[str] | None = None, line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        location = ""
        if self.path is not None:
            location = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{location}{message}")


class DownloadError(DatasetError):
    """A dataset file could not be downloaded, or its checksum did not match."""


class ConfigError(KgrecError):
    """A configuration key, value or option is unknown or of the wrong type."""


class UnknownIdError(KgrecError, KeyError):
    """A raw id (user, item, entity or relation) is not in the dataset; ``query`` is what was asked for and
    ``matches`` the close raw ids or names suggested (for a service that answers with them as data)."""

    def __init__(self, message: str, query: str | None = None, matches: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.query, self.matches = query, tuple(matches)

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownUserError(UnknownIdError):
    """A user given by raw id or name is not in the dataset (the message suggests close matches)."""


class UnknownItemError(UnknownIdError):
    """An item given by raw id or name is not in the dataset (the message suggests close matches)."""


class RunError(KgrecError):
    """A run directory is missing or incomplete, or one of its files (``config.yaml``, ``model.pt``,
    ``dataset.json``) cannot be read; the message names the file."""


class IncompatibleRunError(RunError):
    """A run directory was written for another dataset or by an incompatible kgrec version."""
