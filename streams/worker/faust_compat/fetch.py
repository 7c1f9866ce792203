"""Overrides of how Faust's consumer and the aiokafka fetcher under it hand
records over: cost and promptness. Each names the upstream code it replaces.

- `step_wait_first` replaces `Consumer.wait_first` (mode's
  `Service.wait_first`) on Faust's consumer. Faust 0.15's consumer hands every
  fetched message to the streams with `await self.wait_first(callback(message),
  self.suspend_flow.wait())` (faust/transport/consumer.py, `_drain_messages`):
  four asyncio tasks, an `asyncio.wait` and three cancellations per message, so
  that a rebalance that suspends the flow can interrupt a callback stuck on a
  full stream buffer. Almost every callback finishes without suspending (the
  buffer has room): the stepping `wait_first` runs the callback by hand up to
  its first suspension; if it finished, no task was made; if it suspended, the
  rest runs under Faust's own `wait_first`, against the flow suspension, as
  before.
- `lighter_ebb` replaces `ProducerBuffer.wait_until_ebb`: the conductor's
  per-message producer-buffer check, without a settings lookup.
- `pause_changelogs_in_fetcher` wraps `Consumer.pause_partitions` and
  `resume_partitions` so that a paused changelog partition is paused in
  aiokafka's fetcher too.
- `pace_empty_fetches` wraps aiokafka's `Fetcher._proc_fetch_request`: an
  empty fetch answered at once waits out a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Coroutine, Generator, Iterable
from typing import Any

from mode.services import WaitResults

from streams.worker.faust_compat.surface import Touch

EMPTY_FETCH_PAUSE = 0.002  # seconds (`pace_empty_fetches`)

CONSUMER = "faust.transport.consumer:Consumer"
TOUCHES = [
    Touch("mode.services:Service", "wait_first", "step_wait_first replaces it on the consumer",
          params=("coros", "timeout")),
    Touch("mode.services", "WaitResults", "step_wait_first returns one, as wait_first does"),
    Touch("faust.transport.producer:ProducerBuffer", "wait_until_ebb", "lighter_ebb replaces it",
          params=()),
    Touch("faust.transport.producer:ProducerBuffer", "pending", "lighter_ebb reads its size", assigned=True),
    Touch("faust.transport.producer:ProducerBuffer", "max_messages", "lighter_ebb compares with it"),
    Touch(CONSUMER, "pause_partitions", "mirrored into aiokafka's fetcher", params=("tps",)),
    Touch(CONSUMER, "resume_partitions", "mirrored into aiokafka's fetcher", params=("tps",)),
    Touch(CONSUMER, "_is_changelog_tp", "only changelog partitions are mirrored", params=("tp",)),
    Touch("faust.transport.consumer:ThreadDelegateConsumer", "_thread",
          "the aiokafka consumer thread whose fetcher is paused and paced", assigned=True),
    Touch("mode.threads:ServiceThread", "thread_loop", "pauses are applied on the fetcher's own loop",
          assigned=True),
    Touch("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread", "_consumer",
          "the aiokafka consumer itself", assigned=True),
    Touch("aiokafka.consumer.consumer:AIOKafkaConsumer", "_fetcher", "pace_empty_fetches wraps its fetches",
          assigned=True),
    Touch("aiokafka.consumer.fetcher:Fetcher", "_proc_fetch_request", "pace_empty_fetches wraps it",
          params=("assignment", "node_id", "request")),
]


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


def step_wait_first(consumer: Any) -> None:
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
    fetcher = consumer._thread._consumer._fetcher  # None until aiokafka's consumer has started
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
