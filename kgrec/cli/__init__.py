"""The ``kgrec`` command: subcommands register themselves here; errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kgrec.errors import KgrecError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from kgrec.cli import data, explain, kge, pipeline, train

    parser = argparse.ArgumentParser(prog="kgrec", description="Explainable recommendation over knowledge graphs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what kgrec is doing")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data.register(commands)
    kge.register(commands)
    train.register(commands)
    explain.register(commands)
    pipeline.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kgrec`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.handler(args)
    except KgrecError as error:
        if args.debug:
            raise
        print(f"kgrec: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("kgrec: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
