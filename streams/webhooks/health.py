"""Readiness and fold lag, read from the running Faust app (faust-streaming
0.15.3 internals, each named where it is used).

Ready means: no rebalance in progress (`app.rebalancing`, set by
App.on_rebalance_start and cleared by on_rebalance_end once recovery has
resumed the streams), table recovery completed (`app.tables.recovery.completed`,
set when the changelogs are replayed) with the active tables up to date
(`app.tables.actives_ready`, reset at every rebalance start), and partitions
assigned to this worker's consumer (`app.consumer.assignment()`).

Fold lag is the consumer lag of dlr.receipts, per assigned partition: the
partition's high watermark as last fetched (`consumer.highwater(tp)`, cached by
the client, no broker round trip) minus the fold's committed offset
(`consumer._committed_offset`, the next offset to read, kept by Faust's
consumer since its last commit). It therefore includes up to one commit
interval (`broker_commit_interval`, 2.8 s) of folded but not yet committed
records, as `kafka-consumer-groups` would show."""

from __future__ import annotations

from typing import Any

from streams.topics import RECEIPTS


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


def fold_lag(app: Any) -> dict[int, int]:
    """Records on dlr.receipts not yet folded (committed), by assigned partition;
    partitions whose high watermark is not known yet are left out."""
    lag: dict[int, int] = {}
    try:
        consumer = app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        for tp in consumer.assignment():
            if tp.topic != RECEIPTS:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # the client has not fetched this partition yet
                continue
            if highwater is None:
                continue
            lag[tp.partition] = max(0, int(highwater) - int(committed.get(tp) or 0))
    except Exception:
        return {}
    return lag
