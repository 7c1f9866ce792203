"""The outbox's counting of delivery reports (streams.worker.output.Batch),
with a stand-in for librdkafka's producer that reports deliveries from another
thread, as librdkafka's poll thread does. The real producer is exercised by
every integration test."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from streams.worker.output import Batch, DeliveryError


class ThreadedProducer:
    def __init__(self, fail_at: int | None = None, full_at: int | None = None) -> None:
        self.produced: list[tuple[str, bytes, bytes | None]] = []
        self.fail_at = fail_at
        self.full_at = full_at
        self.pending: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes | None, partition: int, on_delivery: Any) -> None:
        if self.full_at is not None and len(self.produced) == self.full_at:
            self.full_at = None
            raise BufferError("queue full")
        index = len(self.produced)
        self.produced.append((topic, value, key))
        self.pending.append((on_delivery, "broker said no" if index == self.fail_at else None))

    def deliver_all(self) -> threading.Thread:
        pending, self.pending = self.pending, []
        thread = threading.Thread(target=lambda: [report(err, None) for report, err in pending])
        thread.start()
        return thread


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_delivered_resolves_only_after_every_report() -> None:
    async def scenario() -> list[str]:
        producer = ThreadedProducer()
        batch = Batch(producer, asyncio.get_running_loop())
        for i in range(100):
            await batch.send("t", b"k", str(i).encode())
        waiter = asyncio.ensure_future(batch.delivered())
        await asyncio.sleep(0.01)
        states = ["waiting" if not waiter.done() else "early"]
        producer.deliver_all().join()
        await asyncio.wait_for(waiter, 5)
        return states

    assert run(scenario()) == ["waiting"]


def test_reports_before_delivered_is_called() -> None:
    async def scenario() -> None:
        producer = ThreadedProducer()
        batch = Batch(producer, asyncio.get_running_loop())
        for i in range(10):
            await batch.send("t", None, str(i).encode())
        producer.deliver_all().join()
        await asyncio.wait_for(batch.delivered(), 5)

    run(scenario())


def test_an_empty_batch_is_delivered_at_once() -> None:
    async def scenario() -> None:
        batch = Batch(ThreadedProducer(), asyncio.get_running_loop())
        await asyncio.wait_for(batch.delivered(), 1)

    run(scenario())


def test_a_failed_delivery_fails_the_batch() -> None:
    async def scenario() -> None:
        producer = ThreadedProducer(fail_at=3)
        batch = Batch(producer, asyncio.get_running_loop())
        for i in range(10):
            await batch.send("t", None, str(i).encode())
        producer.deliver_all()
        await asyncio.wait_for(batch.delivered(), 5)

    with pytest.raises(DeliveryError, match="broker said no"):
        run(scenario())


def test_tracked_sends_keep_the_highest_offset_per_partition() -> None:
    class Message:
        def __init__(self, partition: int, offset: int) -> None:
            self._partition, self._offset = partition, offset

        def partition(self) -> int:
            return self._partition

        def offset(self) -> int:
            return self._offset

    async def scenario() -> dict[int, int]:
        producer = ThreadedProducer()
        batch = Batch(producer, asyncio.get_running_loop())
        for i in range(6):
            await batch.send("changelog", b"k", b"v", partition=i % 2, track=True)
        reports = [report for report, _ in producer.pending]
        for report, (partition, offset) in zip(reports, [(0, 10), (1, 4), (0, 12), (1, 3), (0, 11), (1, 5)],
                                               strict=True):
            report(None, Message(partition, offset))
        await asyncio.wait_for(batch.delivered(), 5)
        return batch.offsets

    assert run(scenario()) == {0: 12, 1: 5}


def test_a_full_queue_is_waited_out_not_lost() -> None:
    async def scenario() -> list[tuple[str, bytes, bytes | None]]:
        producer = ThreadedProducer(full_at=2)
        batch = Batch(producer, asyncio.get_running_loop())
        for i in range(5):
            await batch.send("t", None, str(i).encode())
        producer.deliver_all()
        await asyncio.wait_for(batch.delivered(), 5)
        return producer.produced

    assert [value for _, value, _ in run(scenario())] == [b"0", b"1", b"2", b"3", b"4"]
