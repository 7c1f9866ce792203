"""When Faust may ack a raw record, and what its commits may carry.

An acked offset is committed within a commit interval; a record acked without
being processed is lost for good. Faust acks in two places where nothing was
processed, and its commit can pass records it dropped; each is closed here:

- `AckHold` holds a batch's acks until the commit protocol releases them.
  It replaces nothing: it takes one more reference on each `Message`
  (`Message.incref`), because `Stream.take_events` acks a batch in a
  `finally`, which a stopping stream runs while the body is still folding.
- `StaleAcks` replaces `Consumer.ack` on Faust's consumer. `Stream.__aiter__`
  skips a record that was fetched in an earlier consumer generation, or that
  comes out of the stream's queue while a rebalance has the flow stopped, and
  acks it as if processed (faust-streaming 0.15, streams.py,
  "skipped_value"). Those acks would land in the new generation and the next
  commit would move past records the new owner has not read. The decision is
  the commit protocol's (`Admission.is_current`).
- `CommitCap` replaces `Consumer._commit_offsets`: every commit is capped at
  what the offset ledger vouches for (streams.worker.ledger)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from streams.worker.faust_compat.surface import Touch
from streams.worker.ledger import OffsetLedger

log = logging.getLogger("dlr.worker")

CONSUMER = "faust.transport.consumer:Consumer"
TOUCHES = [
    Touch("faust.types.tuples:Message", "incref", "AckHold takes a reference per message", params=("n",)),
    Touch("faust.types.tuples:Message", "decref", "AckHold drops it on release", params=("n",)),
    Touch("faust.types.tuples:Message", "generation_id", "the generation a record was fetched in",
          assigned=True),
    Touch("faust.types.tuples:ConsumerMessage", "on_final_ack", "calls consumer.ack, which StaleAcks replaces",
          params=("consumer",)),
    Touch(CONSUMER, "ack", "StaleAcks replaces it", params=("message",)),
    Touch(CONSUMER, "_commit_offsets", "CommitCap replaces it", params=("offsets", "start_new_transaction")),
]


class AckHold:
    """The acks of one batch, held from the moment the batch is taken: one
    more reference on each message, so Faust's own ack (its last reference)
    does not reach the consumer. `release` lets through all but the records
    kept out; a batch never released (its body raised, was cancelled or was
    kept out whole) is never acked, and is read again."""

    __slots__ = ("kept_out", "messages")

    def __init__(self, events: Sequence[Any]) -> None:
        self.messages = [event.message for event in events]
        self.kept_out: set[int] = set()
        for message in self.messages:
            message.incref()

    def keep_out(self, message: Any) -> None:
        self.kept_out.add(id(message))

    def release(self) -> None:
        kept_out = self.kept_out
        for message in self.messages:
            if id(message) not in kept_out:
                message.decref()


class StaleAcks:
    """Refuses the consumer's ack of a record that is not current
    (`is_current`: of an earlier generation, or while the flow is stopped).
    Such a record is read again from the committed offset by whoever owns its
    partition now, so refusing costs at most a re-read, whose outputs repeat
    with the same ids (`on_stale` counts them)."""

    def __init__(self, consumer: Any, is_current: Callable[[Any], bool], on_stale: Callable[[], None],
                 ledger: OffsetLedger[Any] | None = None, topics: frozenset[str] = frozenset()) -> None:
        self.consumer = consumer
        self.is_current = is_current
        self.on_stale = on_stale
        self.ledger = ledger
        self.topics = topics
        self._ack = consumer.ack

    def install(self) -> None:
        # an instance attribute: ConsumerMessage.on_final_ack looks it up per ack
        self.consumer.ack = self.ack

    def ack(self, message: Any) -> bool:
        if not self.is_current(message):
            self.on_stale()
            return False
        if self.ledger is not None and message.topic in self.topics:
            # even when Faust's own bookkeeping has the offset already (a record read again)
            self.ledger.acked(message.tp, message.offset)
        return bool(self._ack(message))


class CommitCap:
    """Holds every offset commit of the consumer to what the ledger vouches
    for: processed, or shown by the fetcher to hold no record. Faust would
    commit past records it fetched and dropped (streams.worker.ledger);
    capped, they are read again instead."""

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
