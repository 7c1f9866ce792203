"""The real worker on a real broker: receipts in, changes and dead letters out."""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from pathlib import Path

import pytest

from streams.core.generate import receipts
from streams.core.records import to_json
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.tail import collect
from streams.serde import codec
from streams.topics import APP_ID, CHARGE_CHANGES, DEAD_LETTER, REPARTITION, STATUS_CHANGES, raw_topic
from tests.integration.conftest import expect, feed, id_counts, sample_lines, start_worker, wait_for

pytestmark = pytest.mark.integration


def generated(messages: int, first_id: int = 1, seed: int = 7) -> dict[str, list[bytes]]:
    lines: dict[str, list[bytes]] = defaultdict(list)
    for item in receipts(messages, first_id=first_id, seed=seed):
        lines[item.provider].append(item.payload)
    return dict(lines)


@pytest.mark.tansu
@pytest.mark.parametrize("broker", ["noida", "tansu"], indirect=True)
def test_every_provider_in_changes_and_dead_letters_out(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    lines = sample_lines()
    want = expect(lines)
    start_worker(workers, broker, tmp_path / "w1")
    feed(broker.bootstrap, lines)
    seen = wait_for(broker.bootstrap, want, workers, timeout=150)

    # exactly the offline fold's changes, each once, with the same transitions
    assert set(id_counts(seen)) == want.ids
    assert max(id_counts(seen).values()) == 1
    offline = {e.id: to_json(e) for e in want.changes}
    for record in seen[STATUS_CHANGES]:
        expected = offline[record["id"]]
        for key in ("message_key", "previous", "status", "final", "error_code", "error_category", "retryable"):
            assert record[key] == expected[key], (key, record, expected)

    # every bad line is on the dead-letter topic with its original bytes and a reason
    dead = seen[DEAD_LETTER]
    assert len(dead) == want.dead == len(lines)  # one bad line per provider sample
    for record in dead:
        provider = record["provider"]
        assert record["source_topic"] == raw_topic(provider)
        assert record["reason"]
        _, envelope = codec.decode(base64.b64decode(record["original_base64"]), expect="RawReceipt")
        assert envelope["payload"] == base64.b64decode(record["payload_base64"])
        assert envelope["payload"] in lines[provider]


def test_restart_recovers_from_changelog_and_emits_nothing_twice(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    first = generated(400)
    start_worker(workers, broker, tmp_path / "w1")
    feed(broker.bootstrap, first)
    wait_for(broker.bootstrap, expect(first), workers)
    workers[0].stop()

    # a fresh data dir: the state can only come back from the changelog topic
    start_worker(workers, broker, tmp_path / "w2")
    second = generated(100, first_id=10_001, seed=8)
    feed(broker.bootstrap, first)  # every receipt again: already folded, must emit nothing
    feed(broker.bootstrap, second)
    both = {p: first.get(p, []) + second.get(p, []) for p in set(first) | set(second)}
    want = expect(both)
    seen = wait_for(broker.bootstrap, want, workers)
    counts = id_counts(seen)
    assert set(counts) == want.ids
    assert [i for i, n in counts.items() if n > 1] == []


def test_exactly_once_outputs_go_through_transactions(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """processing_guarantee=exactly_once: outputs go through Faust's
    transactional producer instead of the librdkafka outbox. Read committed,
    they are exactly the offline fold's changes, each once."""
    lines = generated(300, seed=13)
    want = expect(lines)
    start_worker(workers, broker, tmp_path / "w1", env={"DLR_PROCESSING_GUARANTEE": "exactly_once"})
    feed(broker.bootstrap, lines)
    seen = wait_for(broker.bootstrap, want, workers)
    counts = id_counts(seen)
    assert set(counts) == want.ids
    assert max(counts.values()) == 1


def test_two_workers_share_partitions_and_match_one(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    lines = generated(1200, seed=11)
    want = expect(lines)
    start_worker(workers, broker, tmp_path / "w1")
    start_worker(workers, broker, tmp_path / "w2")
    feed(broker.bootstrap, lines)
    seen = wait_for(broker.bootstrap, want, workers)
    counts = id_counts(seen)
    assert set(counts) == want.ids
    # at-least-once: a rebalance may repeat a change, always with the same id
    repeated = sum(n - 1 for n in counts.values())
    print(f"two workers: {len(counts)} changes, {repeated} exact repeats")
    members = group_members(broker.bootstrap)
    assert len(members) == 2 and all(n > 0 for n in members), members


def group_members(bootstrap: str) -> list[int]:
    """Partitions held by each member of the workers' consumer group."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    last: object = None
    for _ in range(10):
        try:
            future = admin.describe_consumer_groups([APP_ID], request_timeout=5)[APP_ID]
            group = future.result(timeout=10)
            return [len(m.assignment.topic_partitions) for m in group.members]
        except Exception as exc:  # a group mid-rebalance answers with an error; ask again
            last = exc
            time.sleep(1)
    raise AssertionError(f"could not describe group {APP_ID}: {last}")


def test_bare_unkeyed_receipts_take_the_repartition_path(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A gateway that writes bare receipt bytes with no key: records land on any
    partition, are re-keyed through the repartition topic, and every message
    still ends in the state the offline fold gives."""
    from confluent_kafka import Producer

    lines = generated(300, seed=5)
    want = expect(lines)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for provider, provider_lines in lines.items():
        for line in provider_lines:
            producer.produce(raw_topic(provider), line)  # no envelope, no key
    producer.flush(30)
    start_worker(workers, broker, tmp_path / "w1")

    finals = {key: state.status.value for key, state in want.states.items()}

    def all_final(seen: dict[str, list[dict[str, object]]]) -> bool:
        last = {r["message_key"]: r["status"] for r in seen[STATUS_CHANGES]}
        return last == finals

    seen = collect(broker.bootstrap, [STATUS_CHANGES], all_final, 120)
    last: dict[str, object] = {}
    for record in seen[STATUS_CHANGES]:
        last[record["message_key"]] = record["status"]
    assert last == finals
    counts = id_counts({**seen, CHARGE_CHANGES: []})
    assert max(counts.values()) == 1
    assert set(counts) <= want.ids | {r["id"] for r in seen[STATUS_CHANGES]}
    assert end_offsets(broker.bootstrap, REPARTITION) > 0  # the path was taken


def end_offsets(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlr-test-offsets"})
    try:
        total = 0
        for partition in range(4):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high
        return total
    finally:
        consumer.close()
