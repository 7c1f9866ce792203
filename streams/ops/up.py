"""`dlr up`: the main job on the embedded default. Starts a broker and a worker,
feeds sample receipts from every provider, shows the status changes as they
arrive, and closes with a summary checked against the offline fold."""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import rich.box
import rich.console
import rich.table

from streams import settings
from streams.core import samples
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import BrokerError, EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.offline import fold_raw
from streams.ops.produce import produce
from streams.ops.tail import collect
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, STATUS_CHANGES


def expected() -> tuple[set[str], int]:
    """Ids of every change the offline fold emits for the samples, and the
    number of lines that must be dead-lettered."""
    _, emitted, bad = fold_raw(samples.all_lines())
    return {e.id for e in emitted}, bad


def show(topic: str, record: dict[str, Any]) -> None:
    if topic == STATUS_CHANGES:
        final = "  final" if record["final"] else ""
        error = f"  {record['error_category']}" if record.get("error_category") else ""
        previous = record["previous"] or "-"
        print(f"  status  {record['message_key']:<48} {previous:>11} -> {record['status']:<11}{final}{error}")
    elif topic == CHARGE_CHANGES:
        note = "  (notification)" if record["notification"] else ""
        print(f"  charge  {record['message_key']:<48} {record['previous'] or '-':>11} -> "
              f"{record['charge_status']}{note}")
    else:
        print(f"  dead    {record['source_topic']}[{record['source_partition']}]@{record['source_offset']}: "
              f"{record['reason']}")


def summary(seen: dict[str, list[dict[str, Any]]], fed: dict[str, int]) -> None:
    last: dict[str, dict[str, Any]] = {}
    for record in seen[STATUS_CHANGES]:
        last[record["message_key"]] = record
    states: dict[str, Counter[str]] = defaultdict(Counter)
    for record in last.values():
        states[record["provider"]][record["status"]] += 1
    dead = Counter(r["provider"] for r in seen[DEAD_LETTER])
    rows = [(provider, count, sum(states[provider].values()), dead[provider],
             ", ".join(f"{n} {s}" for s, n in sorted(states[provider].items()))) for provider, count in fed.items()]
    print("\nSummary")
    if sys.stdout.isatty():  # a rich table on a terminal; the plain lines below in logs and CI
        table = rich.table.Table(box=rich.box.SIMPLE)
        for name, justify in (("provider", "left"), ("receipts", "right"), ("messages", "right"),
                              ("dead", "right"), ("states", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for provider, count, messages, dead_letters, mix in rows:
            table.add_row(provider, str(count), str(messages), str(dead_letters), mix)
        rich.console.Console(file=sys.stdout).print(table)
        return
    print(f"  {'provider':<12} {'receipts':>8} {'messages':>8} {'dead':>5}  states")
    for provider, count, messages, dead_letters, mix in rows:
        print(f"  {provider:<12} {count:>8} {messages:>8} {dead_letters:>5}  {mix}")


def up(impl: str = "noida", keep: bool = False, timeout: float = 120.0) -> int:
    work = Path(tempfile.mkdtemp(prefix="dlr-up-"))
    print(f"dlr up: starting the embedded {impl} broker (data in {work})")
    broker = EmbeddedBroker(impl, data_dir=work / "broker")
    try:
        bootstrap = broker.start()
    except BrokerError as exc:
        print(f"dlr up: {exc}", file=sys.stderr)
        return 1
    worker = WorkerProcess(bootstrap, work / "worker")
    try:
        partitions = settings.get_int("partitions")
        ensure_topics(bootstrap, partitions)
        worker.start()
        print(f"dlr up: broker on {bootstrap}, worker pid {worker.process.pid if worker.process else '?'}, "
              f"HTTP on 127.0.0.1:{worker.web_port}")
        fed: dict[str, int] = {}
        for provider, lines in samples.all_lines().items():
            produce(bootstrap, provider, io.BytesIO(b"\n".join(lines)), partitions)
            fed[provider] = len(lines)
        want_ids, want_dead = expected()
        print(f"dlr up: fed {sum(fed.values())} receipts from {len(fed)} providers; "
              f"waiting for {len(want_ids)} changes and {want_dead} dead letters\n")

        def done(seen: dict[str, list[dict[str, Any]]]) -> bool:
            if not worker.alive:
                raise RuntimeError(f"the worker exited; its log:\n{worker.log_tail()}")
            got = {r["id"] for r in seen[STATUS_CHANGES] + seen[CHARGE_CHANGES]}
            return got >= want_ids and len(seen[DEAD_LETTER]) >= want_dead

        started = time.monotonic()
        seen = collect(bootstrap, [STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER], done, timeout, show)
        elapsed = time.monotonic() - started
        summary(seen, fed)
        got = {r["id"] for r in seen[STATUS_CHANGES] + seen[CHARGE_CHANGES]}
        missing, extra = want_ids - got, got - want_ids
        if missing or extra or len(seen[DEAD_LETTER]) != want_dead:
            print(f"\ndlr up: MISMATCH with the offline fold: {len(missing)} missing, {len(extra)} unexpected, "
                  f"{len(seen[DEAD_LETTER])} of {want_dead} dead letters (after {elapsed:.1f}s)")
            return 1
        print(f"\ndlr up: all {len(got)} changes and {want_dead} dead letters out in {elapsed:.1f}s; "
              "the stream agrees with `dlr fold` (same change ids)")
        if keep:
            print(f"dlr up: still running; try `dlr tail status-changes --broker {bootstrap} --from-beginning`. "
                  "Ctrl-C stops.")
            while worker.alive:
                time.sleep(1)
        return 0
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"dlr up: {exc}", file=sys.stderr)
        return 1
    finally:
        worker.stop()
        broker.stop()
