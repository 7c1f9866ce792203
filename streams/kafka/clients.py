"""Plain librdkafka clients for the offline tools (`dlr replay`, `dlr rebuild`):
a consumer of assigned partitions, partitions and their watermarks as ranges,
reading a range of records (raw records as `RawRecord`), the last state per
key of a state table's changelog, committed offsets of a group, and an
idempotent writer that remembers what it wrote. None of them joins a group."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streams.core.model import MessageState
from streams.kafka.admin import client_config
from streams.serde import encoders


@dataclass(frozen=True, slots=True)
class PartitionRange:
    topic: str
    partition: int
    start: int  # first offset read
    end: int  # first offset not read

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: where it is, its key, value and timestamp."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def consumer(bootstrap: str) -> Any:
    """A consumer for assigned partitions (no group membership, no commits)."""
    from confluent_kafka import Consumer

    return Consumer(client_config(bootstrap, {
        "group.id": f"dlr-replay-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "enable.partition.eof": True,
    }))


def group_consumer(bootstrap: str, group: str) -> Any:
    """A consumer that only reads or commits the offsets of `group`; it never joins it."""
    from confluent_kafka import Consumer

    return Consumer(client_config(bootstrap, {"group.id": group, "enable.auto.commit": False}))


def partitions(client: Any, topic: str) -> list[int] | None:
    """The topic's partitions, None when there is no such topic."""
    meta = client.list_topics(timeout=30).topics.get(topic)
    if meta is None or meta.error is not None:
        return None
    return sorted(meta.partitions)


def partitions_count(bootstrap: str, topic: str) -> int:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient(client_config(bootstrap)).list_topics(timeout=30).topics.get(topic)
    if meta is None or meta.error is not None:
        raise RuntimeError(f"no topic {topic}")
    return len(meta.partitions)


def watermarks(client: Any, topic: str, parts: Iterable[int]) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)}: the oldest offset still held, the next to be written."""
    from confluent_kafka import TopicPartition

    out = {}
    for p in parts:
        low, high = client.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        out[p] = (int(low), int(high))
    return out


def all_of(client: Any, topic: str) -> list[PartitionRange]:
    """Every record the topic holds now, per partition (none if there is no such topic)."""
    parts = partitions(client, topic)
    if parts is None:
        return []
    return [PartitionRange(topic, p, low, high) for p, (low, high) in watermarks(client, topic, parts).items()]


def read(client: Any, ranges: list[PartitionRange], handle: Callable[[Any], None],
         stall_timeout: float = 60.0) -> None:
    """Every record in the ranges, per partition in offset order, to `handle`
    as librdkafka's message. Ends at each range's end (gaps such as
    transaction markers included)."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    pending = {(r.topic, r.partition): r.end for r in ranges if r.size}
    if not pending:
        return
    client.assign([TopicPartition(r.topic, r.partition, r.start) for r in ranges if r.size])
    last_progress = time.monotonic()
    try:
        while pending:
            messages = client.consume(1000, 0.5)
            for message in messages:
                tp = (message.topic(), message.partition())
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.pop(tp, None)
                        continue
                    raise KafkaException(error)
                end = pending.get(tp)
                if end is None or message.offset() >= end:
                    pending.pop(tp, None)
                    continue
                handle(message)
                last_progress = time.monotonic()
                if message.offset() + 1 >= end:
                    pending.pop(tp, None)
            if not messages and pending:
                positions = client.position([TopicPartition(t, p) for t, p in pending])
                for tp in positions:
                    if tp.offset >= 0 and tp.offset >= pending[(tp.topic, tp.partition)]:
                        pending.pop((tp.topic, tp.partition), None)
                if pending and time.monotonic() - last_progress > stall_timeout:
                    raise RuntimeError(f"no records from {sorted(pending)} for {stall_timeout:.0f}s")
    finally:
        client.unassign()


def read_raw(client: Any, ranges: list[PartitionRange], handle: Callable[[RawRecord], None],
             stall_timeout: float = 60.0) -> None:
    """As `read`, each record as a `RawRecord`: the reader of the raw topics
    that `dlr replay` and `dlr rebuild` share (streams.worker.steps.normalize_raw
    makes of each what the worker does)."""

    def each(message: Any) -> None:
        handle(RawRecord(message.topic(), message.partition(), message.offset(), message.key(), message.value(),
                         message.timestamp()[1]))

    read(client, ranges, each, stall_timeout)


def read_states(bootstrap: str, topic: str, wanted: Callable[[bytes], bool] | None = None,
                progress: Callable[[int], None] | None = None) -> dict[str, MessageState]:
    """The last MessageState per key in a state table's changelog topic (of
    the keys `wanted` accepts, if given)."""
    client = consumer(bootstrap)
    last: dict[bytes, bytes | None] = {}

    def keep(message: Any) -> None:
        key = message.key()
        if key is not None and (wanted is None or wanted(key)):
            last[key] = message.value()
        if progress:
            progress(1)

    try:
        parts = partitions(client, topic)
        if parts is None:
            raise RuntimeError(f"no topic {topic}: is the state version right (DLR_STATE_VERSION)?")
        read(client, all_of(client, topic), keep)
    finally:
        client.close()
    read_state = encoders.in_use().read_state
    return {key.decode(): read_state(value) for key, value in last.items() if value is not None}


def committed(bootstrap: str, group: str, ranges: list[PartitionRange]) -> dict[tuple[str, int], int]:
    """{(topic, partition): offset} the group has committed, for the ranges' partitions that have one."""
    from confluent_kafka import TopicPartition

    client = group_consumer(bootstrap, group)
    try:
        answer = client.committed([TopicPartition(r.topic, r.partition) for r in ranges], timeout=30)
    finally:
        client.close()
    return {(tp.topic, tp.partition): tp.offset for tp in answer if tp.offset >= 0}


def commit_ends(bootstrap: str, group: str, ranges: list[PartitionRange]) -> None:
    """Commit each range's end as the group's offset of its partition."""
    from confluent_kafka import TopicPartition

    client = group_consumer(bootstrap, group)
    try:
        client.commit(offsets=[TopicPartition(r.topic, r.partition, r.end) for r in ranges], asynchronous=False)
    finally:
        client.close()


class Writer:
    """An idempotent producer that remembers, per partition, the last offset written."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Producer

        self.producer = Producer(client_config(bootstrap, {"enable.idempotence": True, "linger.ms": 5}))
        self.last: dict[tuple[str, int], int] = {}
        self.errors: list[str] = []
        self.sent = 0

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self.errors.append(str(error))
            return
        tp = (message.topic(), message.partition())
        self.last[tp] = max(self.last.get(tp, -1), message.offset())

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, partition=partition, on_delivery=self._delivered)
                break
            except BufferError:  # the local queue is full: let it drain
                self.producer.poll(0.1)
        self.sent += 1
        self.producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        left = self.producer.flush(timeout)
        if left:
            self.errors.append(f"{left} record(s) not confirmed after {timeout:.0f}s")
