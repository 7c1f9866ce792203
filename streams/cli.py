"""The `dlr` command. Subcommands import what they need when they run, so the
offline ones start fast and need no broker."""

from __future__ import annotations

import argparse
import dataclasses
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
    from streams import settings
    from streams.core.mappings import MappingError
    from streams.ops import offline

    try:
        options = settings.parse_options(args.received_at, args.mappings)
    except MappingError as exc:
        print(f"dlr normalize: {exc}", file=sys.stderr)
        return 64
    with _input(args.file) as source:
        return offline.normalize(args.provider, source, sys.stdout, options)


def _fold(args: argparse.Namespace) -> int:
    from streams.ops import offline

    with _input(args.file) as source:
        return offline.fold(source, sys.stdout, args.states)


def _broker_address(args: argparse.Namespace) -> str:
    from streams import settings

    return args.broker or settings.get("broker")


def _broker(args: argparse.Namespace) -> int:
    from streams import settings
    from streams.ops.serve import serve_broker

    data_dir = args.data_dir or f"{settings.get('data_dir')}/broker-{args.impl}"
    return serve_broker(args.impl, data_dir, args.port or settings.get_int("broker_port"))


def _worker(args: argparse.Namespace) -> int:
    from streams import settings
    from streams.worker.app import WorkerConfig
    from streams.worker.run import run

    config = WorkerConfig.from_settings(_broker_address(args))
    if args.web_port is not None:
        config = dataclasses.replace(config, web_port=args.web_port)
    if args.data_dir is not None:
        config = dataclasses.replace(config, data_dir=args.data_dir)
    return run(config, settings.get("log_level"), settings.get("log_format"))


def _produce(args: argparse.Namespace) -> int:
    from streams import settings
    from streams.ops.produce import produce

    with _input(args.file) as source:
        return produce(_broker_address(args), args.provider, source, settings.get_int("partitions"))


def _tail(args: argparse.Namespace) -> int:
    from streams.ops.tail import tail

    return tail(_broker_address(args), args.topic, args.from_beginning, args.idle_timeout)


def _up(args: argparse.Namespace) -> int:
    from streams.ops.up import up

    return up(impl=args.impl, keep=args.keep)


def _config(args: argparse.Namespace) -> int:
    from streams.ops.config_cmd import show

    return show(sys.stdout, as_json=args.json)


def _bench(args: argparse.Namespace) -> int:
    from streams.ops.bench.run import main

    return main(args.quick)


def _replay(args: argparse.Namespace) -> int:
    from streams import settings
    from streams.core import providers
    from streams.ops.replay import Request, check, replay

    request = Request(
        bootstrap=_broker_address(args), providers=[args.provider] if args.provider else providers.names(),
        state_version=args.state_version if args.state_version is not None else settings.get_int("state_version"),
        from_time=args.from_time, to_time=args.to_time, from_offset=args.from_offset, to_offset=args.to_offset,
        dry_run=args.dry_run, wait=args.wait, dead_letters=args.dead_letters, mappings=args.mappings,
    )
    try:
        check(request, all_providers=args.provider is None)
    except ValueError as exc:
        print(f"dlr replay: {exc}", file=sys.stderr)
        return 64
    return replay(request)


def _rebuild(args: argparse.Namespace) -> int:
    from streams import settings
    from streams.ops.rebuild import Request, rebuild

    source = args.from_version if args.from_version is not None else settings.get_int("state_version")
    return rebuild(Request(
        bootstrap=_broker_address(args), source_version=source,
        target_version=args.version if args.version is not None else source + 1,
        finish=args.finish, dry_run=args.dry_run, force=args.force,
    ))


def build_parser() -> argparse.ArgumentParser:
    from streams.core.providers import names
    from streams.topics import DEAD_LETTER

    parser = argparse.ArgumentParser(prog="dlr", description="SMS delivery receipts, normalized and folded on Kafka.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    mappings_help = ("TOML file of status words and error codes read before the providers' tables "
                     "(default: $DLR_MAPPINGS; docs/operators.md)")

    p = sub.add_parser("normalize", help="raw receipts (one per line) -> canonical events as JSON lines")
    p.add_argument("--provider", required=True, choices=names())
    p.add_argument("--received-at", metavar="TIME",
                   help="ISO-8601 receipt time for formats that carry none (default: now)")
    p.add_argument("--mappings", metavar="FILE", help=mappings_help)
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-")
    p.set_defaults(handler=_normalize)

    p = sub.add_parser("fold", help="canonical events -> status and charge changes (and --states)")
    p.add_argument("--states", action="store_true", help="print every message's final state at the end")
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-")
    p.set_defaults(handler=_fold)

    p = sub.add_parser("broker", help="run the embedded Kafka-protocol broker in the foreground")
    p.add_argument("--data-dir", help="where it keeps its data (default: $DLR_DATA_DIR/broker-IMPL)")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: $DLR_BROKER_PORT, 19092)")
    p.add_argument("--impl", choices=["noida", "tansu"], default="noida",
                   help="noida (persistent, transactions) or tansu (in memory)")
    p.set_defaults(handler=_broker)

    broker_help = "bootstrap servers (default: $DLR_BROKER, else the embedded broker's 127.0.0.1:19092)"
    p = sub.add_parser("worker", help="run one stream-processing worker")
    p.add_argument("--broker", help=broker_help)
    p.add_argument("--web-port", type=int, help="HTTP port (default: $DLR_WEB_PORT, 6066)")
    p.add_argument("--data-dir", help="state store directory (default: $DLR_DATA_DIR, .dlr)")
    p.set_defaults(handler=_worker)

    p = sub.add_parser("produce", help="write raw receipts (one per line) to a provider's raw topic")
    p.add_argument("--provider", required=True, choices=names())
    p.add_argument("--broker", help=broker_help)
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-")
    p.set_defaults(handler=_produce)

    p = sub.add_parser("tail", help="print a topic's records as JSON lines")
    p.add_argument("topic", help="status-changes, charge-changes, dead-letter, receipts, or a full topic name")
    p.add_argument("--broker", help=broker_help)
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--idle-timeout", type=float, metavar="S", help="exit after S seconds without a record")
    p.set_defaults(handler=_tail)

    p = sub.add_parser("bench", help="benchmarks: figures, never pass/fail (--quick: under five minutes)")
    p.add_argument("--quick", action="store_true")
    p.set_defaults(handler=_bench)

    p = sub.add_parser("up", help="the demo: embedded broker, a worker, sample receipts from every provider")
    p.add_argument("--impl", choices=["noida", "tansu"], default="noida")
    p.add_argument("--keep", action="store_true", help="keep running after the summary until Ctrl-C")
    p.set_defaults(handler=_up)

    p = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    p.add_argument("--json", action="store_true", help="as a JSON list of settings")
    p.set_defaults(handler=_config)

    p = sub.add_parser("replay", help="re-read a range of the raw topics through the current normalizer and fold",
                       description="Re-read a range of the raw topics (or the raw records behind a time range "
                                   "of dead letters: --dead-letters), normalize with the current code and feed "
                                   "the receipts that are news to the live state to the fold; already folded "
                                   "receipts emit nothing. stdout: the changes (to be) emitted as JSON lines, then "
                                   "a summary line; stderr: progress and the summary. Exit 0 done, 1 a write "
                                   "failed, 2 not folded within --wait, 64 bad options. See docs/replay.md.")
    p.add_argument("--broker", help=broker_help)
    p.add_argument("--provider", choices=names(), help="one provider's raw topic (default: every raw topic)")
    p.add_argument("--dead-letters", action="store_true",
                   help=f"replay the raw records the dead letters on {DEAD_LETTER} written in --from/--to point "
                        "to (their source_topic, source_partition, source_offset), those of stage normalize")
    p.add_argument("--from", dest="from_time", metavar="TIME",
                   help="first record time (with --dead-letters: the dead letters'): ISO-8601 (UTC unless it says), "
                        "now, or relative: --from=-2h, -30m, -1d")
    p.add_argument("--to", dest="to_time", metavar="TIME", help="end of the time range, not included (default: now)")
    p.add_argument("--from-offset", metavar="O|P:O[,P:O]",
                   help="first offset, in every partition or per partition (P:O needs --provider)")
    p.add_argument("--to-offset", metavar="O|P:O[,P:O]", help="first offset not read (default: the end)")
    p.add_argument("--state-version", type=int, metavar="N",
                   help="state table the workers use (default: $DLR_STATE_VERSION, 1)")
    p.add_argument("--mappings", metavar="FILE", help=mappings_help + "; use the workers' file")
    p.add_argument("--dry-run", action="store_true", help="report what the replay would change; write nothing")
    p.add_argument("--wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the workers to fold what was written (default 60; 0: do not wait)")
    p.set_defaults(handler=_replay)

    p = sub.add_parser("rebuild", help="recompute every message state from the raw topics into a new state version",
                       description="Fold every raw topic from the beginning, with the current code, into state "
                                   "version M. Run it with the workers up (it lists how M differs from N and "
                                   "writes nothing to the change topics), then stop the workers, run it again "
                                   "with --finish (catch-up, then the corrections to the change topics) and start "
                                   "the workers with DLR_STATE_VERSION=M. Exit 0 done, 1 a write failed, 3 "
                                   "refused. See docs/replay.md.")
    p.add_argument("--broker", help=broker_help)
    p.add_argument("--from-version", type=int, metavar="N",
                   help="the version the workers run now (default: $DLR_STATE_VERSION, 1)")
    p.add_argument("--version", type=int, metavar="M", help="the version to build (default: N+1)")
    p.add_argument("--finish", action="store_true",
                   help="workers stopped: catch up and write the corrections to the change topics")
    p.add_argument("--dry-run", action="store_true", help="report the differences from N; write nothing")
    p.add_argument("--force", action="store_true",
                   help="rebuild M from scratch although it holds states; --finish although workers run")
    p.set_defaults(handler=_rebuild)

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
