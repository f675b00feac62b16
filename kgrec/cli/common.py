"""What every subcommand of the ``kgrec`` command shares: the exit code of a refused command, the one-line
error and the quick check of a run directory. Nothing here imports torch."""

from __future__ import annotations

from pathlib import Path

from kgrec.errors import ConfigError
from kgrec.run.files import saved_run_config

EXIT_USAGE = 2


def error_line(error: Exception) -> str:
    """The error as one line: an OSError as ``file: reason``, any line breaks (a library's message) joined."""
    if isinstance(error, OSError) and error.filename is not None:
        message = f"{error.filename}: {error.strerror or error}"
    else:
        message = str(error)
    return " ".join(message.split())


def checked_run(run: Path) -> Path:
    """``run``, once its config.yaml shows a run directory of this kgrec version (else a RunError naming it).

    The check imports nothing heavy: a mistyped or foreign run is reported before the seconds that importing
    torch and the graph library take."""
    saved_run_config(run)
    return run


def check_positive(name: str, value: int | None) -> None:
    """ConfigError unless ``value`` (an option's, None when not given) is a positive integer."""
    if value is not None and value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value}")
