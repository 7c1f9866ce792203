"""When Faust may ack a raw record: only once the batch that holds it is done,
and never for a record fetched before a rebalance.

An acked offset is committed within a commit interval; a record acked without
being folded is lost for good. Faust acks in two places where nothing was
folded, and both are closed here:

- `take_events` acks a batch in a `finally`, which a stopping stream runs
  while the body is still folding (`acked_when_done`).
- `Stream.__aiter__` skips a record that was fetched in an earlier consumer
  generation, or that comes out of the stream's queue while a rebalance has
  the flow stopped, and acks it as if it had been processed (faust-streaming
  0.15, streams.py, "skipped_value"; the skip came with faust-streaming
  PR #223). Revoking a partition clears the consumer's acks but not the
  queues, so those acks land in the new generation's `_acked` list, and the
  next commit moves past records the new owner has not read yet. In the
  kill -9 test, where every restart meets a second rebalance seconds later,
  that lost the states of 440 of 20,000 messages in a run
  (`StaleAcks`).

And whatever else drops a fetched record, no commit goes past it: every ack
goes to the `OffsetLedger`, and `CommitCap` holds each commit to what the
ledger vouches for.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import faust

from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics

log = logging.getLogger("dlr.worker")


class Done:
    """What the body of a batch says of it: `withhold()` when it was not
    processed (the gate kept it out during a rebalance), `keep_out(message)`
    for a record it left out (`OffsetLedger.admit`), so that none of those
    records is acked, whenever the ack comes."""

    __slots__ = ("kept_out", "withheld")

    def __init__(self) -> None:
        self.withheld = False
        self.kept_out: list[Any] = []

    def withhold(self) -> None:
        self.withheld = True

    def keep_out(self, message: Any) -> None:
        self.kept_out.append(message)


@contextlib.contextmanager
def acked_when_done(events: Sequence[faust.EventT[bytes]]) -> Iterator[Done]:
    """Let Faust ack a batch only once its body has finished.

    `take_events` acks every event of a batch in a `finally`, and a stopping
    stream runs that `finally` at once (`Stream.on_stop` closes the take
    generator) while the agent is still inside the batch: a SIGTERM mid-batch
    acked receipts whose fold had not finished, and the consumer's last
    commit carried their offsets (measured in the rebalance test: offsets
    acked at the stop with no state written, the new owner starting after
    them). Each message holds one more reference while the body runs; the
    `finally` then only drops Faust's own, and a body that raises or is
    cancelled keeps its messages unacked: they are read again, as are those
    of a body that withheld them or kept them out (`Done`)."""
    messages = [event.message for event in events]
    for message in messages:
        message.incref()
    done = Done()
    yield done  # not in a `finally`: a body that does not finish leaves the reference
    if done.withheld:
        return
    if done.kept_out:
        kept_out = {id(message) for message in done.kept_out}
        messages = [message for message in messages if id(message) not in kept_out]
    for message in messages:
        message.decref()


class StaleAcks:
    """Refuses the consumer's ack of a record from an earlier generation or
    while the flow is stopped. Such a record is read again from the committed
    offset by whoever owns its partition now, so refusing costs at most a
    re-read, whose outputs repeat with the same ids (counted in
    `metrics.rereads`)."""

    def __init__(self, app: faust.App, metrics: Metrics, ledger: OffsetLedger[Any] | None = None,
                 topics: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        self.ledger = ledger
        self.topics = topics
        self.logged_generation = -1
        self._ack = app.consumer.ack

    def install(self) -> None:
        # an instance attribute: ConsumerMessage.on_final_ack looks it up per ack
        self.app.consumer.ack = self.ack  # type: ignore[method-assign]

    def ack(self, message: Any) -> bool:
        app = self.app
        if message.generation_id != app.consumer_generation_id or not app.flow_control.is_active():
            if self.logged_generation != app.consumer_generation_id:  # once per rebalance
                self.logged_generation = app.consumer_generation_id
                log.info("dlr worker: records fetched before the rebalance to generation %s are read again",
                         app.consumer_generation_id)
            self.metrics.rereads += 1
            return False
        if self.ledger is not None and message.topic in self.topics:
            # even when Faust's own bookkeeping has the offset already (a record read again)
            self.ledger.acked(message.tp, message.offset)
        return bool(self._ack(message))


class CommitCap:
    """Holds every offset commit of the consumer to what the ledger vouches
    for: processed, or shown by the fetcher to hold no record. Faust would
    commit past records it fetched and dropped (module docstring of
    `streams.worker.ledger`); capped, they are read again instead."""

    def __init__(self, consumer: Any, ledger: OffsetLedger[Any], topics: frozenset[str]) -> None:
        self.consumer = consumer
        self.ledger = ledger
        self.topics = topics
        self.held: set[Any] = set()  # partitions whose commit is held back, logged once each
        self._commit_offsets = consumer._commit_offsets

    def install(self) -> None:
        self.consumer._commit_offsets = self.commit_offsets

    async def commit_offsets(self, offsets: Any, start_new_transaction: bool = True) -> bool:
        ledger, topics = self.ledger, self.topics
        capped = {}
        for tp, offset in offsets.items():
            if tp.topic not in topics:
                capped[tp] = offset
                continue
            allowed = ledger.cap(tp, offset)
            if allowed is not None:
                capped[tp] = allowed
            if allowed != offset and tp not in self.held:
                self.held.add(tp)
                log.info("dlr worker: commit of %s[%d] held %s (asked %d): records below are not processed yet",
                         tp.topic, tp.partition, "back" if allowed is None else f"at {allowed}", offset)
            elif allowed == offset:
                self.held.discard(tp)
        if not capped:
            return False
        done = bool(await self._commit_offsets(capped, start_new_transaction=start_new_transaction))
        if done:
            for tp, offset in capped.items():
                if tp.topic in topics:
                    ledger.committed(tp, offset)
        return done
