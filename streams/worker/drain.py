"""Hooks into Faust's consumer and the aiokafka fetcher under it, for cost,
promptness and seeks.

`install`: Faust 0.15's consumer hands every fetched message to the streams
with `await self.wait_first(callback(message), self.suspend_flow.wait())`
(faust/transport/consumer.py, `_drain_messages`): four asyncio tasks, an
`asyncio.wait` and three cancellations per message, so that a rebalance that
suspends the flow can interrupt a callback stuck on a full stream buffer. In
the worker profile that was the largest single cost of Faust's own. Almost
every callback finishes without ever suspending (the buffer has room): the
stepping `wait_first` runs the callback by hand up to its first suspension;
if it finished, no task was made; if it suspended, the rest of it runs under
Faust's own `wait_first`, against the flow suspension, exactly as before.

`lighter_ebb`: the conductor's per-message producer-buffer check, without a
settings lookup.

`pause_changelogs_in_fetcher` and `pace_empty_fetches`: two ways aiokafka's
fetcher held every record of the worker back, or spun (see each).

`SeekGuard`: records fetched before a seek are never delivered after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Coroutine, Generator, Iterable, Iterator
from typing import Any

from mode.services import WaitResults

from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics

log = logging.getLogger("dlr.worker")

EMPTY_FETCH_PAUSE = 0.002  # seconds (`pace_empty_fetches`)


class Resumed:
    """The rest of a coroutine that was stepped by hand and suspended on
    `yielded`: awaiting this yields `yielded` to the event loop as the
    coroutine itself would have, then goes on driving the coroutine."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, to_yield = self.coro, self.yielded
        while True:
            try:
                sent = yield to_yield
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation too: into the coroutine, as a task would
                try:
                    to_yield = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    to_yield = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def install(consumer: Any) -> None:
    """Give Faust's consumer the stepping `wait_first` (an instance attribute:
    the consumer looks the method up per message)."""
    original = consumer.wait_first

    async def wait_first(*coros: Any, timeout: Any = None) -> Any:
        if len(coros) != 2 or timeout is not None or not inspect.iscoroutine(coros[0]):
            return await original(*coros, timeout=timeout)
        callback, other = coros
        try:
            yielded = callback.send(None)
        except BaseException as exc:  # finished (StopIteration) or failed: `other` never starts
            if inspect.iscoroutine(other):
                other.close()  # no "never awaited" warning
            if isinstance(exc, StopIteration):
                return WaitResults([callback], [exc.value], False)
            raise
        return await original(Resumed(callback, yielded), other)

    consumer.wait_first = wait_first


def lighter_ebb(app: Any) -> None:
    """Faust's conductor awaits `app.producer.buffer.wait_until_ebb()` for
    every fetched message (Faust's table writes queue changelog records in
    that buffer); its size check reads `app.conf.producer_threaded` through
    Faust's settings registry each time, 2.2% of the worker. Same check, the
    setting read once. Call before the conductor compiles its message handler
    (it takes the method then): at app creation."""
    if app.conf.producer_threaded:
        return
    buffer = app.producer.buffer
    pending, ebb = buffer.pending, buffer.wait_until_ebb

    async def wait_until_ebb() -> None:
        if pending.qsize() > buffer.max_messages:
            await ebb()

    buffer.wait_until_ebb = wait_until_ebb


def pace_empty_fetches(consumer: Any, pause: float = EMPTY_FETCH_PAUSE) -> bool:
    """`pace_fetcher` on Faust's consumer. False: its fetcher is not started
    yet, nothing changed."""
    fetcher = getattr(consumer._thread._consumer, "_fetcher", None)
    if fetcher is None:
        return False
    pace_fetcher(fetcher, pause)
    return True


def pace_fetcher(fetcher: Any, pause: float = EMPTY_FETCH_PAUSE) -> None:
    """After a fetch that brought nothing back sooner than `pause`, aiokafka's
    `fetcher` waits out the rest of `pause` before it sends the next one.

    A Kafka broker holds an empty fetch until data comes or the fetch's
    max wait (1.5 s from Faust) runs out, so there this never waits. The
    embedded broker (noida-db) answers every fetch at once: an idle aiokafka
    consumer sent tens of thousands of fetches a second, 97% of a core on
    its own and more in the broker, and under load the worker's fetch
    thread took a third of a core and the GIL from the agents. Data that
    comes during the pause waits for it: `pause` is the most it adds."""
    fetch = fetcher._proc_fetch_request

    async def proc_fetch_request(assignment: Any, node_id: Any, request: Any) -> Any:
        started = time.monotonic()
        new_data = await fetch(assignment, node_id, request)
        if not new_data:
            rest = pause - (time.monotonic() - started)
            if rest > 0:
                # cancelled by close() or a new assignment: done, as aiokafka's own fetch is then
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(rest)
        return new_data

    fetcher._proc_fetch_request = proc_fetch_request


def pause_changelogs_in_fetcher(consumer: Any) -> None:
    """Make Faust's pausing of a table's changelog partitions pause them in
    aiokafka's fetcher too.

    Faust pauses a partition only in its own bookkeeping: it stops taking the
    partition's records, while aiokafka goes on fetching it. Once a table is
    recovered its changelog partitions stay paused, and the changelog records
    the fold writes were fetched and left in aiokafka's buffer, never taken.
    For 100 ms after such a fetch (aiokafka's prefetch backoff) aiokafka
    sends no fetch at all to that broker, for any partition: every receipt
    written meanwhile waited (measured at 8,650 receipts/s: two stalls of
    about 100 ms in the first second after every start).

    Only changelog partitions are mirrored: the worker's source partitions
    are paused only while the flow is stopped, and sought again after it.
    aiokafka runs on the consumer's own thread and loop: the change is made
    there, in the order Faust made it."""
    pause, resume = consumer.pause_partitions, consumer.resume_partitions
    thread = consumer._thread

    def mirror(tps: Iterable[Any], paused: bool) -> None:
        changelogs = [tp for tp in tps if consumer._is_changelog_tp(tp)]
        if changelogs:
            with contextlib.suppress(RuntimeError):  # the consumer's loop is closed: stopping
                thread.thread_loop.call_soon_threadsafe(apply, changelogs, paused)

    def apply(tps: list[Any], paused: bool) -> None:
        fetching = thread._consumer
        if fetching is None:
            return
        from aiokafka import TopicPartition

        assigned = fetching.assignment()
        change = fetching.pause if paused else fetching.resume
        for tp in tps:
            if tp in assigned:  # a rebalance may have taken it since
                change(TopicPartition(tp.topic, tp.partition))

    def pause_partitions(tps: Iterable[Any]) -> None:
        tps = list(tps)
        pause(tps)
        mirror(tps, True)

    def resume_partitions(tps: Iterable[Any]) -> None:
        tps = list(tps)
        resume(tps)
        mirror(tps, False)

    consumer.pause_partitions = pause_partitions
    consumer.resume_partitions = resume_partitions


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
                    await self.consumer.seek(tp, offset)
                    self.read_offsets[tp] = self.consumer._read_offset.get(tp)
            except Exception as exc:  # mid-rebalance: the next seek starts them
                log.warning("dlr worker: could not seek %d partitions with no committed offset to their "
                            "earliest: %r", len(fresh), exc)

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
                    await self.consumer.seek(tp, offset)
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
