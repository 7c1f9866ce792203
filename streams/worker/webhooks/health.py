"""Readiness, consumer lag and table recovery, read from the running Faust app
(faust-streaming 0.15.3 internals, each named where it is used). Everything
here is read at scrape time from what the worker already holds in memory: no
broker round trip, no await, so a scrape never stalls the event loop, and a
worker that is not running yet (or is stopping) gives no series rather than a
failed scrape.

Ready means: no rebalance in progress (`app.rebalancing`, set by
App.on_rebalance_start and cleared by on_rebalance_end once recovery has
resumed the streams), table recovery completed (`app.tables.recovery.completed`,
set when the changelogs are replayed) with the active tables up to date
(`app.tables.actives_ready`, reset at every rebalance start), and partitions
assigned to this worker's consumer (`app.consumer.assignment()`).

Consumer lag is per assigned partition of the topics the agents read (the raw
topics and the repartition topic): the partition's high watermark as last
fetched (`consumer.highwater(tp)`, cached by the client, no broker round trip;
the last stable offset under exactly_once) minus the group's committed offset
(`faust_compat.committed_offsets`, the next offset to read, kept by Faust's
consumer since its last commit or its seek to the committed offsets after a
rebalance). It therefore includes up to one commit interval
(`broker_commit_interval`, 2.8 s) of processed but not yet committed records,
as `kafka-consumer-groups` would show. A partition whose high watermark the
client has not fetched yet is left out, and so is every partition while the
worker rebalances (`app.rebalancing`, until its tables are recovered): Faust
reads the new assignment's committed offsets only at the end of the recovery
(`Consumer.perform_seek`), so before that the difference would be the whole
partition. The fold runs in the normalize agents when a raw record already
sits on its message's partition and in the fold agent otherwise, so fold lag
is the consumer lag of all those topics summed per partition.

Table recovery: after a rebalance Faust replays each newly assigned changelog
partition into the table before the streams resume (`app.tables.recovery`,
`in_recovery` while it does). What is left of an active partition is Faust's
own figure (`Recovery.active_remaining()`: the changelog's high watermark when
recovery started minus the last offset applied), the one Faust waits for
before the worker is ready. A standby partition (a hot copy kept for
failover, `table_standby_replicas`) is read continuously, so what is left of it
is measured against the client's live high watermark, falling back to Faust's
snapshot (`standby_highwaters`) before the first fetch."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from streams.core import providers
from streams.topics import REPARTITION, raw_topic
from streams.worker import faust_compat

# The topics this worker's agents consume (streams/worker/app.py).
PIPELINE_TOPICS: frozenset[str] = frozenset([*map(raw_topic, providers.names()), REPARTITION])


def readiness(app: Any) -> tuple[bool, str]:
    """(ready, reason)."""
    try:
        if app.rebalancing:
            return False, "rebalancing"
        tables = app.tables
        if not tables.recovery.completed.is_set():
            return False, "table recovery not completed"
        if not tables.actives_ready:
            return False, "tables not up to date"
        if not app.consumer.assignment():
            return False, "no partitions assigned"
    except Exception as exc:  # not started yet, or stopping: not ready, whatever the cause
        return False, f"worker not running ({type(exc).__name__})"
    return True, "ready"


def consumer_lag(app: Any, topics: Collection[str] = PIPELINE_TOPICS) -> dict[tuple[str, int], int]:
    """Records not yet processed and committed, by (topic, partition), for the
    assigned partitions of `topics` whose high watermark is known."""
    lag: dict[tuple[str, int], int] = {}
    try:
        if app.rebalancing:  # the new assignment's committed offsets are read once its tables are recovered
            return {}
        consumer = app.consumer
        committed = faust_compat.committed_offsets(consumer)
        for tp in consumer.assignment():
            if tp.topic not in topics:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # the client has not fetched this partition yet, or just lost it
                continue
            if highwater is None:
                continue
            # None: no commit yet (or offset 0, which Faust stores as None); -1: none in the group
            lag[tp.topic, tp.partition] = max(0, int(highwater) - max(0, int(committed.get(tp) or 0)))
    except Exception:
        return {}
    return lag


def fold_lag(lag: dict[tuple[str, int], int]) -> dict[int, int]:
    """Consumer lag summed per partition: the records of that partition number
    not yet normalized and folded."""
    out: dict[int, int] = {}
    for (_topic, partition), n in lag.items():
        out[partition] = out.get(partition, 0) + n
    return out


def recovering(app: Any) -> bool | None:
    """True while this worker restores its active tables from the changelogs;
    None when there is no recovery to ask (not started)."""
    try:
        return bool(app.tables.recovery.in_recovery)
    except Exception:
        return None


def recovery_remaining(app: Any) -> dict[tuple[str, int, str], int]:
    """Changelog records left to restore, by (table, partition, role), role
    "active" (the worker is not ready until these are 0) or "standby"."""
    out: dict[tuple[str, int, str], int] = {}
    try:
        recovery = app.tables.recovery
        tables = recovery.tp_to_table

        def name(tp: Any) -> str:
            return str(getattr(tables.get(tp), "name", tp.topic))

        actives = recovery.active_tps
        for tp, remaining in recovery.active_remaining().items():
            if tp in actives:
                out[name(tp), tp.partition, "active"] = max(0, int(remaining))
        consumer = app.consumer
        for tp in list(recovery.standby_tps):
            offset = recovery.standby_offsets.get(tp)
            if offset is None:  # not read yet: its start offset is built when recovery starts
                continue
            try:
                live = consumer.highwater(tp)
            except Exception:
                live = None
            if live is not None:
                target = int(live) - 1  # the last offset in the changelog, as Faust counts
            else:
                snapshot = recovery.standby_highwaters.get(tp)
                if snapshot is None:
                    continue
                target = int(snapshot)
            out[name(tp), tp.partition, "standby"] = max(0, target - int(offset))
    except Exception:
        return {}
    return out
