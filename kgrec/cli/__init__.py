"""The ``kgrec`` command: subcommands register themselves here; errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kgrec.cli import data, explain, inspect, kge, pipeline, serve, train
from kgrec.cli.common import EXIT_USAGE, checked_run, error_line
from kgrec.errors import KgrecError

__all__ = ["EXIT_USAGE", "build_parser", "checked_run", "error_line", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="kgrec", description="Explainable recommendation over knowledge graphs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what kgrec is doing")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data.register(commands)
    kge.register(commands)
    train.register(commands)
    explain.register(commands)
    inspect.register(commands)
    pipeline.register(commands)
    serve.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kgrec`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.handler(args)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except (KgrecError, OSError) as error:  # OSError: a file the user named cannot be read or written
        if args.debug:
            raise
        print(f"kgrec: error: {error_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kgrec: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
