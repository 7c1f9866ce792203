"""The agents' outputs (receipts, status and charge changes, dead letters,
repartitioned receipts) go out through librdkafka (confluent-kafka), not
through Faust's aiokafka producer.

Why: in the worker profile aiokafka's per-message produce path (partitioner,
accumulator, request encoding, all in Python on the event loop) cost about a
quarter of the agents' thread. librdkafka batches, encodes and sends on its own
threads; a produce() call is a few microseconds.

How an agent waits: it opens a `Batch`, sends every output of its batch of
events through it, and awaits `batch.delivered()`, which resolves once the
broker has acknowledged every one of them (or raises the first delivery
error). Delivery reports come from librdkafka on a poll thread and are counted
there; only the last one of a batch touches the event loop.

The fold writes the state table's changelog through this producer too, in a
second Batch opened after the outputs' `delivered()` (streams.worker.commit),
so a state is never written before what was emitted from it. Transactions
(`exactly_once`) need Faust's producer: there the agents send through Faust
topics instead, and Faust's table writes the changelog (streams.worker.app)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from streams.kafka.admin import client_config

log = logging.getLogger("dlr.worker")

# Measured with `dlr bench`: linger 5 ms with large batches is where the
# producer stops being the bottleneck on this broker; the request limit fits a
# dead letter that carries a 1 MB receipt whole.
PRODUCER_SETTINGS: dict[str, Any] = {
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "message.max.bytes": 4 * 1024 * 1024,
    "queue.buffering.max.messages": 500_000,
    "acks": "all",
    # Same partition for the same key as Faust, the Java client and `dlr produce`.
    "partitioner": "murmur2_random",
}


class DeliveryError(RuntimeError):
    """The broker refused or never acknowledged an output."""


class Outbox(Protocol):
    """The outputs of one batch of events."""

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None: ...

    async def delivered(self) -> None:
        """Once every output sent so far is acknowledged; DeliveryError (or
        the producer's own exception) if one was not. Called once."""


class Batch:
    """An Outbox over librdkafka: outputs counted as they are produced, and
    again as librdkafka reports them delivered."""

    __slots__ = ("_done", "_error", "_future", "_lock", "_loop", "_producer", "_sealed", "_sent", "offsets")

    def __init__(self, producer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.offsets: dict[int, int] = {}  # partition -> highest offset written (see `send(track=True)`)
        self._producer = producer
        self._loop = loop
        self._lock = threading.Lock()
        self._sent = 0
        self._done = 0
        self._sealed = False
        self._error: str | None = None
        self._future: asyncio.Future[None] | None = None

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int = -1,
                   track: bool = False) -> None:
        """Produce one output; `partition` -1 lets the partitioner choose;
        `track` keeps the highest offset written per partition in `offsets`."""
        while True:
            with self._lock:
                self._sent += 1
            try:
                self._producer.produce(topic, value, key, partition,
                                       on_delivery=self._report_offset if track else self._report)
                return
            except BufferError:  # librdkafka's queue is full: let it drain
                with self._lock:
                    self._sent -= 1
                await asyncio.sleep(0.005)

    def _report(self, err: Any, msg: Any) -> None:
        """librdkafka's delivery report, on the poll thread."""
        with self._lock:
            self._done += 1
            if err is not None and self._error is None:
                size = len(msg.value() or b"") if msg is not None else 0
                where = f" writing {size:,} bytes to {msg.topic()}" if msg is not None else ""
                self._error = f"{err}{where}"
            finished = self._sealed and self._done == self._sent
        if finished:
            self._loop.call_soon_threadsafe(self._resolve)

    def _report_offset(self, err: Any, msg: Any) -> None:
        if err is None:
            partition, offset = msg.partition(), msg.offset()
            with self._lock:
                if offset > self.offsets.get(partition, -1):
                    self.offsets[partition] = offset
        self._report(err, msg)

    def _resolve(self) -> None:
        if self._future is not None and not self._future.done():
            if self._error is not None:
                self._future.set_exception(DeliveryError(self._error))
            else:
                self._future.set_result(None)

    async def delivered(self) -> None:
        with self._lock:
            self._sealed = True
            self._future = self._loop.create_future()
            finished = self._done == self._sent
        if finished:
            self._resolve()
        await self._future


class FaustOutbox:
    """An Outbox through Faust topics: inside the transaction when
    processing_guarantee is exactly_once."""

    def __init__(self, topics: Mapping[str, Any]) -> None:
        self._topics = topics
        self._acks: list[Awaitable[Any]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None:
        self._acks.append(await self._topics[topic].send(key=key, value=value,
                                                         partition=None if partition < 0 else partition))

    async def delivered(self) -> None:
        await asyncio.gather(*self._acks)


class Output:
    """One librdkafka producer per worker, with a thread that serves its
    delivery reports."""

    def __init__(self, bootstrap: str) -> None:
        self._config = client_config(bootstrap, PRODUCER_SETTINGS)
        self._producer: Any = None
        self._running = False
        self._thread: threading.Thread | None = None

    def _start(self) -> None:  # at the first batch: no connection for an app that never runs
        from confluent_kafka import Producer

        self._producer = Producer(self._config)
        self._running = True
        self._thread = threading.Thread(target=self._poll, name="dlr-output-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while self._running:
            self._producer.poll(0.05)

    async def warm(self, topics: list[str]) -> None:
        """Connect and learn the output topics' partitions now, off the event
        loop, instead of at the first batch (measured: the first receipts
        after a start waited about 300 ms for it)."""
        if self._producer is None:
            self._start()
        await asyncio.get_running_loop().run_in_executor(None, self._learn, topics)

    def _learn(self, topics: list[str]) -> None:
        for topic in topics:
            try:
                self._producer.list_topics(topic, timeout=10)
            except Exception as exc:  # a first batch would meet it again, with the real error
                log.warning("dlr worker: output topic %s not reachable yet (%s)", topic, exc)

    def outbox(self) -> Batch:
        if self._producer is None:
            self._start()
        return Batch(self._producer, asyncio.get_running_loop())

    def close(self, timeout: float = 10.0) -> int:
        """Flush and stop; the number of outputs still undelivered."""
        if self._producer is None or self._thread is None:
            return 0
        left = int(self._producer.flush(timeout))
        self._running = False
        self._thread.join(1.0)
        if left:
            log.warning("dlr worker: %d outputs not acknowledged at shutdown (their receipts are read again)", left)
        return left
