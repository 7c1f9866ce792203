"""The `dlr` command. Subcommands import what they need when they run, so the
offline ones start fast and need no broker."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

Handler = Callable[[argparse.Namespace], int]


@contextmanager
def _input(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as handle:
            yield handle


def _normalize(args: argparse.Namespace) -> int:
    from streams import offline, settings

    with _input(args.file) as source:
        return offline.normalize(args.provider, source, sys.stdout, settings.parse_options(args.received_at))


def _fold(args: argparse.Namespace) -> int:
    from streams import offline

    with _input(args.file) as source:
        return offline.fold(source, sys.stdout, args.states)


def build_parser() -> argparse.ArgumentParser:
    from streams.providers import names

    parser = argparse.ArgumentParser(prog="dlr", description="SMS delivery receipts, normalized and folded on Kafka.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("normalize", help="raw receipts (one per line) -> canonical events as JSON lines")
    p.add_argument("--provider", required=True, choices=names())
    p.add_argument("--received-at", metavar="TIME",
                   help="ISO-8601 receipt time for formats that carry none (default: now)")
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-")
    p.set_defaults(handler=_normalize)

    p = sub.add_parser("fold", help="canonical events -> status and charge changes (and --states)")
    p.add_argument("--states", action="store_true", help="print every message's final state at the end")
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-")
    p.set_defaults(handler=_fold)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
