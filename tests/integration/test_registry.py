"""A real `dlr worker` with DLR_SCHEMA_REGISTRY_URL set, on the real broker:
every output in the Confluent wire format with the id registered under its
topic's subject, and the same records the offline fold gives.

The registry is a stand-in (tests/fake_registry.py): an HTTP server in this
test process that speaks the part of the Confluent Schema Registry REST API
that confluent_kafka.schema_registry's client calls (register: POST
/subjects/{subject}/versions; look up: GET /schemas/ids/{id}). No real registry
can run on the test machines: there is no container engine for
confluentinc/cp-schema-registry, and Karapace cannot be installed there."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from streams.core import records
from streams.core.model import ChargeChange, MessageState, StatusChange
from streams.kafka.broker import EmbeddedBroker, free_port
from streams.kafka.processes import WorkerProcess
from streams.serde import codec
from streams.serde.registry import HEADER, ConfluentClient, Registry
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, RECEIPTS, REPARTITION, STATUS_CHANGES, changelog
from tests.fake_registry import serve
from tests.integration.conftest import WORKER_ENV, expect, feed, sample_lines

pytestmark = pytest.mark.integration

CHANGELOG = changelog(1)
TOPICS = [RECEIPTS, STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER, CHANGELOG]
RECORD_OF = {RECEIPTS: "Receipt", STATUS_CHANGES: "StatusChange", CHARGE_CHANGES: "ChargeChange",
             DEAD_LETTER: "DeadLetter", CHANGELOG: "MessageState"}
Read = dict[str, list[tuple[bytes | None, bytes]]]  # topic -> (key, value) in offset order per partition


def read_until(bootstrap: str, reader: Registry, done: Any, timeout: float, worker: WorkerProcess) -> Read:
    """Raw values of TOPICS from the beginning until `done(seen)`; each value is
    decoded on the way (through the registry) only to tell when we are done."""
    from confluent_kafka import Consumer

    seen: Read = defaultdict(list)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"dlr-test-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(TOPICS)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(seen):
            assert not worker.crashed, f"worker died:\n{worker.log_tail()}"
            for message in consumer.consume(500, 0.2):
                if message.error() or message.value() is None:
                    continue
                seen[str(message.topic())].append((message.key(), bytes(message.value())))
    finally:
        consumer.close()
    return seen


def test_with_a_registry_every_output_is_confluent_framed_and_matches_the_offline_fold(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    lines = sample_lines()
    want = expect(lines)
    good = want.reports - want.dead
    with serve() as (url, store, _):
        worker = WorkerProcess(broker.bootstrap, tmp_path / "w1",
                               env={**WORKER_ENV, "DLR_SCHEMA_REGISTRY_URL": url}).start()
        workers.append(worker)
        feed(broker.bootstrap, lines)
        reader = Registry(ConfluentClient(url))  # a consumer of our own: looks every id up over HTTP

        def change_ids(seen: Read) -> set[str]:
            return {reader.decode(value)[1]["id"] for topic in (STATUS_CHANGES, CHARGE_CHANGES)
                    for _, value in seen[topic]}

        def done(seen: Read) -> bool:
            return (len(seen[RECEIPTS]) >= good and len(seen[DEAD_LETTER]) >= want.dead
                    and change_ids(seen) >= want.ids
                    and len({key for key, _ in seen[CHANGELOG]}) >= len(want.states))

        seen = read_until(broker.bootstrap, reader, done, 150, worker)
        counts = {t: len(v) for t, v in seen.items()}
        assert done(seen), f"not all out: {counts}\n{worker.log_tail()}"
        print(f"registry: records read {counts}, subjects {sorted(store.subjects)}")

        # every subject the worker writes was registered at start-up, with our schema
        subjects = {f"{t}-value" for t in (RECEIPTS, REPARTITION, STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER,
                                           CHANGELOG)}
        assert set(store.subjects) == subjects
        for topic in TOPICS:
            (schema_id,) = store.subjects[f"{topic}-value"]
            assert json.loads(store.lookup(schema_id)) == codec.public_schema(RECORD_OF[topic])

        # every record: Confluent-framed with its subject's id, and decodable
        decoded: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for topic in TOPICS:
            (schema_id,) = store.subjects[f"{topic}-value"]
            for _, value in seen[topic]:
                assert value[:1] == b"\x00", (topic, value[:12])
                assert HEADER.unpack_from(value)[1] == schema_id, topic
                _, record = reader.decode(value, expect=RECORD_OF[topic])
                decoded[topic].append(record)

    # the same changes as the offline fold, each once, with the same transitions
    changes = [records.from_avro(StatusChange, r) for r in decoded[STATUS_CHANGES]]
    charges = [records.from_avro(ChargeChange, r) for r in decoded[CHARGE_CHANGES]]
    got = [c.id for c in changes] + [c.id for c in charges]
    assert sorted(got) == sorted(want.ids)
    offline = {e.id: records.to_json(e) for e in want.changes}
    for change in changes:
        record = records.to_json(change)
        for key in ("message_key", "previous", "status", "final", "error_code", "error_category", "retryable"):
            assert record[key] == offline[change.id][key], (key, record, offline[change.id])
    for charge in charges:
        record = records.to_json(charge)
        for key in ("message_key", "charge_status", "notification", "price"):
            assert record[key] == offline[charge.id][key], (key, record, offline[charge.id])

    # the last state written per message is the offline fold's final state
    last: dict[str, MessageState] = {}
    for record in decoded[CHANGELOG]:
        state = records.from_avro(MessageState, record)
        last[state.message_key] = state
    assert set(last) == set(want.states)
    for key, state in last.items():
        assert (state.status, state.final, state.charge_status) == \
            (want.states[key].status, want.states[key].final, want.states[key].charge_status), key

    # receipts and dead letters: one per good and per bad report
    assert len(decoded[RECEIPTS]) == good and {r["provider"] for r in decoded[RECEIPTS]} == set(lines)
    assert len(decoded[DEAD_LETTER]) == want.dead
    assert all(r["reason"] and r["original"] for r in decoded[DEAD_LETTER])


def test_an_unreachable_registry_stops_start_up_with_one_line_and_dead_letters_nothing(
    broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    lines = sample_lines()
    feed(broker.bootstrap, lines)  # waiting on the raw topics before the worker starts
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w1",
                           env={**WORKER_ENV, "DLR_SCHEMA_REGISTRY_URL": closed}).start()
    workers.append(worker)
    assert worker.process is not None
    code = worker.process.wait(120)
    log = worker.log_tail().splitlines()
    assert code == 2, "\n".join(log)
    errors = [line for line in log if line.startswith("dlr worker: schema registry:")]
    assert errors == [line for line in log if "registry" in line.lower()] and len(errors) == 1, log
    assert "registering Receipt under dlr.receipts-value" in errors[0]
    assert not (tmp_path / "w1" / ".worker-running").exists()

    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dlr-test-offsets"})
    try:
        for topic in (RECEIPTS, DEAD_LETTER, STATUS_CHANGES):
            for partition in range(4):
                assert consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1] == 0, topic
    finally:
        consumer.close()
