"""How the bench reads what the pipeline and the peer write, without taking
the CPU they are measured on.

A librdkafka consumer on the embedded broker spins: noida-db answers every
fetch at once instead of holding an empty one, and librdkafka's fetch thread
took about 55% of a core whenever it had caught up, with the broker answering
it; on two cores that was CPU taken from the worker under measurement. This
reader is aiokafka with the worker's own pacing of empty fetches
(`faust_compat.fetch.pace_fetcher`): at most 2 ms added to any record's arrival."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from streams.worker.faust_compat.fetch import pace_fetcher


class Reader:
    """A consumer group of one on `topic`, from its earliest offset, read
    synchronously (`records`). `ready` is set once the group has assigned
    it the partitions."""

    def __init__(self, bootstrap: str, topic: str, group: str | None = None,
                 ready: threading.Event | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._consumer = self._loop.run_until_complete(
            self._start(bootstrap, topic, group or f"dlr-bench-{uuid.uuid4().hex[:6]}", ready))

    async def _start(self, bootstrap: str, topic: str, group: str, ready: threading.Event | None) -> Any:
        from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

        class Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                pass

            async def on_partitions_assigned(self, assigned: Any) -> None:
                if ready is not None and assigned:
                    ready.set()

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                    enable_auto_commit=False)
        await consumer.start()
        pace_fetcher(consumer._fetcher)
        consumer.subscribe([topic], listener=Assigned())
        return consumer

    def records(self, wait: float) -> Iterator[Any]:
        """What arrived within `wait` seconds (aiokafka ConsumerRecords)."""
        batch = self._loop.run_until_complete(self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=2000))
        for records in batch.values():
            yield from records

    def close(self) -> None:
        try:
            self._loop.run_until_complete(self._consumer.stop())
        finally:
            self._loop.close()
