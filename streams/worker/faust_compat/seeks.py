"""`SeekGuard` wraps Faust's `Consumer.perform_seek` and
`Consumer._wait_next_records` so that records fetched before a seek are never
delivered after it, tells the offset ledger of every seek and fetch, and reads
passed-over records again (streams.worker.ledger).

Its own seeks replace `Consumer.seek`: Faust's (in `ThreadDelegateConsumer`)
calls aiokafka's `seek` from the caller's thread, while aiokafka's fetcher runs
on the consumer thread and may be iterating the very records `seek` drops (a
KeyError in `Fetcher.fetched_records` that stopped a worker in the two-worker
test). `seek` runs aiokafka's on the consumer thread, as Faust's own
`seek_wait` does."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from streams.worker.faust_compat.surface import Touch
from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics

log = logging.getLogger("dlr.worker")

CONSUMER = "faust.transport.consumer:Consumer"
TOUCHES = [
    Touch(CONSUMER, "perform_seek", "SeekGuard wraps it: a seek ends the batch in hand", params=()),
    Touch(CONSUMER, "_wait_next_records", "SeekGuard wraps it: batches stop at a seek, the ledger sees fetches",
          params=("timeout",)),
    Touch(CONSUMER, "_read_offset", "SeekGuard restores the seek's read offsets", assigned=True),
    Touch(CONSUMER, "seek", "SeekGuard.seek does what it does, on the consumer thread",
          params=("partition", "offset")),
    Touch("mode.threads:QueueServiceThread", "call_thread", "runs aiokafka's seek on the consumer thread",
          params=("fun", "args", "kwargs")),
    Touch("aiokafka.consumer.consumer:AIOKafkaConsumer", "seek", "moves the fetch position",
          params=("partition", "offset")),
    Touch("faust.transport.consumer:ThreadDelegateConsumer", "earliest_offsets",
          "partitions with no committed offset start at their earliest",
          params=("partitions",)),
    Touch(CONSUMER, "flow_active", "no re-read seek while the flow is stopped"),
]


class SeekGuard:
    """Keeps records fetched before a seek from being delivered after it.

    Faust's drain loop iterates a fetched batch of records over many awaits.
    `Consumer.perform_seek` (after every rebalance's recovery) moves the
    fetcher back to the committed offsets and resets the read offsets to
    them; records of a batch fetched before the seek that are delivered after
    it then jump past the new read offset, and `_add_gap` marks every offset
    in the jump as acked: committed, never processed (measured in the
    rebalance test: read offset 620 after a seek, next record 698, offsets
    620-697 lost). Here a batch stops at a seek (the fetcher reads those
    records again from the committed offsets), and a batch whose fetch
    overlapped a seek is dropped and the seek done again, as Faust does
    itself for a batch fetched while the flow is stopped."""

    def __init__(self, consumer: Any, ledger: OffsetLedger[Any] | None = None,
                 topics: frozenset[str] = frozenset(), metrics: Metrics | None = None) -> None:
        self.consumer = consumer
        self.ledger = ledger  # told every seek and fetch of `topics`; reads passed-over records again
        self.topics = topics
        self.metrics = metrics
        self.seeks = 0  # moves at the start and at the end of every seek
        self.running = 0  # seeks under way (a rebalance's and one of ours may overlap)
        self.read_offsets: dict[Any, Any] = {}
        self._perform_seek = consumer.perform_seek
        self._wait_next_records = consumer._wait_next_records

    def install(self) -> None:
        self.consumer.perform_seek = self.perform_seek
        self.consumer._wait_next_records = self.wait_next_records

    async def perform_seek(self) -> None:
        self.seeks += 1
        self.running += 1
        try:
            await self._perform_seek()
            self.read_offsets = dict(self.consumer._read_offset)
            if self.ledger is not None:
                await self._restart_ledger()
        finally:
            self.running -= 1
            self.seeks += 1

    async def _restart_ledger(self) -> None:
        """Every tracked partition is read again from its committed offset:
        the ledger starts there. One with no committed offset is sought to
        its earliest: aiokafka's `seek_to_committed` leaves such a partition
        where it was, so the records Faust fetched and dropped while the flow
        was stopped (recovery) were never read again. That skipped the first
        few hundred records of every partition of a worker killed before its
        first commit."""
        ledger = self.ledger
        assert ledger is not None
        fresh = []
        for tp in self.consumer.assignment():
            if tp.topic in self.topics:
                committed = self.read_offsets.get(tp)
                ledger.sought(tp, committed)
                if committed is None:
                    fresh.append(tp)
        if fresh:
            try:
                for tp, offset in (await self.consumer.earliest_offsets(*fresh)).items():
                    ledger.sought(tp, offset)
                    await self.seek(tp, offset)
                    self.read_offsets[tp] = self.consumer._read_offset.get(tp)
            except Exception as exc:  # mid-rebalance: the next seek starts them
                log.warning("dlr worker: could not seek %d partitions with no committed offset to their "
                            "earliest: %r", len(fresh), exc)

    async def seek(self, tp: Any, offset: int) -> None:
        """`Consumer.seek`, with aiokafka's seek on the consumer thread."""
        thread = self.consumer._thread
        await thread.call_thread(_seek_in_thread, thread, tp, offset)
        self.consumer._read_offset[tp] = offset if offset else None  # as Consumer.seek: read again from there

    async def wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        if self.ledger is not None and not self.running and self.consumer.flow_active:
            await self._reread_passed_over()
        seeks, seeking = self.seeks, self.running
        records, active = await self._wait_next_records(timeout)
        if not records:
            return records, active
        if seeking or self.seeks != seeks:
            try:
                await self.perform_seek()
            except Exception as exc:  # mid-rebalance: its own seek follows
                log.warning("dlr worker: seek after a batch fetched across a seek failed: %r", exc)
            return {}, active
        ledger, topics = self.ledger, self.topics
        if ledger is not None:
            for tp, messages in records.items():
                if tp.topic in topics:
                    ledger.fetched(tp, [message.offset for message in messages])
        return {tp: self._until_seek(messages, seeks) for tp, messages in records.items()}, active

    async def _reread_passed_over(self) -> None:
        """Seek a partition back to the first record it has not processed,
        when records after it were kept out or processed
        (`OffsetLedger.stuck`). Done here, between two fetched batches, so
        that no batch is cut short by it."""
        ledger = self.ledger
        assert ledger is not None
        now = time.monotonic()
        stuck = list(ledger.stuck(now))
        if not stuck:
            return
        self.seeks += 1
        self.running += 1
        try:
            for tp, start, above in stuck:
                log.warning("dlr worker: %s[%d] offset %d and on were skipped on the way to the fold "
                            "(next seen: %d); reading them again", tp.topic, tp.partition, start, above)
                if self.metrics is not None:
                    self.metrics.passed_over += 1
                offset = ledger.reread(tp, now)
                if offset is not None:
                    await self.seek(tp, offset)
                    self.read_offsets[tp] = offset
        except Exception as exc:  # a rebalance came: its own seek reads them again
            log.warning("dlr worker: seek to read skipped records again failed: %r", exc)
        finally:
            self.running -= 1
            self.seeks += 1

    def _until_seek(self, messages: Iterable[Any], seeks: int) -> Iterator[Any]:
        for message in messages:
            if self.seeks != seeks:
                # the drain loop set the read offset of the record it was
                # delivering when the seek came: the seek's offsets again
                if not self.running:
                    self.consumer._read_offset.update(self.read_offsets)
                return
            yield message


async def _seek_in_thread(thread: Any, tp: Any, offset: int) -> None:
    thread._consumer.seek(tp, offset)
