"""`dlr replay` and `dlr rebuild` as an operator runs them: the real CLI in a
subprocess against a real broker and a real worker.

A mapping change is simulated without editing a provider module: a
`sitecustomize.py` on PYTHONPATH changes Vonage's status table in every
process started with it (the CLI and, after a rebuild, the worker), the way a
deployed fix changes it everywhere. The test process computes what to expect
with the same change applied by monkeypatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.core import providers, records
from streams.core.fold import change_id, fold_all
from streams.core.generate import receipts as generated_receipts
from streams.core.model import RANK, MessageState, Receipt, ReceiptError, Status
from streams.core.providers.vonage import parse as vonage
from streams.kafka.admin import client_config, ensure_topics
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.tail import to_json
from streams.serde import codec, envelope
from streams.topics import (
    APP_ID,
    CHARGE_CHANGES,
    DEAD_LETTER,
    RECEIPTS,
    REPARTITION,
    STATUS_CHANGES,
    changelog,
    raw_topic,
)
from tests.integration.conftest import PARTITIONS, WORKER_ENV, expect, feed, sample_lines, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 2.0  # seconds for a stray record to show up after the command said it is done

# The mapping change: "enroute" was unknown (a dead letter) and means SENT now;
# "failed" meant UNDELIVERED and means EXPIRED now, a lower rank.
MAPPING_CHANGE = {"enroute": (Status.SENT, False), "failed": (Status.EXPIRED, True)}
SITECUSTOMIZE = """\
from streams.core.model import Status
from streams.core.providers.vonage import parse as vonage

vonage.STATUSES["enroute"] = (Status.SENT, False)
vonage.STATUSES["failed"] = (Status.EXPIRED, True)
"""
SUBMITTED = "vonage:1A0000000F3C2CA0"  # only an "enroute" receipt in the samples
FAILED = "vonage:1A0000000F3C2B8E"  # accepted, buffered, failed in the samples


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker("noida", data_dir=tmp_path / "broker") as running:
        ensure_topics(running.bootstrap, PARTITIONS)
        yield running


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def changed_mapping(tmp_path: Path) -> Path:
    folder = tmp_path / "changed-mapping"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return folder


def start(workers: list[WorkerProcess], broker: EmbeddedBroker, data_dir: Path,
          env: dict[str, str] | None = None) -> WorkerProcess:
    worker = WorkerProcess(broker.bootstrap, data_dir, env={**WORKER_ENV, **(env or {})}).start()
    workers.append(worker)
    return worker


def with_mapping(folder: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}


@dataclass
class Run:
    code: int
    lines: list[dict[str, Any]]
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        assert self.lines and self.lines[-1]["type"] == "summary", self.stderr
        return self.lines[-1]

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["type"] in types]


def dlr(*args: str, env: dict[str, str] | None = None) -> Run:
    done = subprocess.run([sys.executable, "-m", "streams", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "DLR_PARTITIONS": str(PARTITIONS), **(env or {})}, timeout=120)
    return Run(done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()], done.stderr)


def lines_of(messages: int, first_id: int, seed: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = defaultdict(list)
    for generated in generated_receipts(messages, first_id=first_id, seed=seed):
        out[generated.provider].append(generated.payload)
    return dict(out)


def merged(*parts: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = defaultdict(list)
    for part in parts:
        for provider, lines in part.items():
            out[provider] += lines
    return dict(out)


# ---- reading the broker, independently of the code under test -----------------


def _consumer(bootstrap: str, group: str | None = None) -> Any:
    from confluent_kafka import Consumer

    return Consumer(client_config(bootstrap, {"group.id": group or f"test-{uuid.uuid4().hex[:8]}",
                                              "enable.auto.commit": False, "enable.partition.eof": True}))


def ends(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap)
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                for p in range(PARTITIONS)}
    finally:
        consumer.close()


def marks(bootstrap: str) -> dict[str, dict[int, int]]:
    return {t: ends(bootstrap, t) for t in (STATUS_CHANGES, CHARGE_CHANGES, RECEIPTS, DEAD_LETTER)}


@dataclass
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def read_topic(bootstrap: str, topic: str, after: dict[int, int] | None = None) -> list[Record]:
    """Every record of a topic (from `after`, the ends returned earlier)."""
    from confluent_kafka import KafkaError, TopicPartition

    stop = ends(bootstrap, topic)
    first = after or {}
    todo = {p for p in range(PARTITIONS) if stop[p] > first.get(p, 0)}
    out: list[Record] = []
    consumer = _consumer(bootstrap)
    try:
        consumer.assign([TopicPartition(topic, p, first.get(p, 0)) for p in todo])
        deadline = time.monotonic() + 30
        while todo and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    todo.discard(message.partition())
                    continue
                if message.offset() < stop[message.partition()]:
                    out.append(Record(message.partition(), message.offset(), message.key(), message.value(),
                                      message.timestamp()[1]))
                if message.offset() + 1 >= stop[message.partition()]:
                    todo.discard(message.partition())
    finally:
        consumer.close()
    assert not todo, f"{topic}: partitions {todo} not read to their end"
    return out


def changes_after(bootstrap: str, before: dict[str, dict[int, int]]) -> dict[str, list[dict[str, Any]]]:
    return {t: [to_json(r.value) for r in read_topic(bootstrap, t, before[t])] for t in (STATUS_CHANGES,
                                                                                         CHARGE_CHANGES)}


def wait_idle(bootstrap: str, timeout: float = 60.0) -> None:
    """Until the workers' group has committed every record of the topics its
    agents read: everything fed is folded and in the changelog."""
    from confluent_kafka import TopicPartition

    topics = [raw_topic(p) for p in providers.names()] + [REPARTITION]
    consumer = _consumer(bootstrap, APP_ID)
    deadline = time.monotonic() + timeout
    try:
        while True:
            wanted = {(t, p): end for t in topics for p, end in ends(bootstrap, t).items() if end > 0}
            committed = consumer.committed([TopicPartition(t, p) for t, p in wanted], timeout=10)
            if all(tp.offset >= wanted[(tp.topic, tp.partition)] for tp in committed):
                return
            assert time.monotonic() < deadline, "the worker did not catch up"
            time.sleep(0.3)
    finally:
        consumer.close()


def changelog_states(bootstrap: str, version: int) -> tuple[dict[str, MessageState], dict[str, int]]:
    """The last state per key in a version's changelog, and each key's partition."""
    states: dict[str, MessageState] = {}
    where: dict[str, int] = {}
    for record in read_topic(bootstrap, changelog(version)):
        assert record.key is not None
        key = record.key.decode()
        where[key] = record.partition
        if record.value is None:
            states.pop(key, None)
        else:
            states[key] = records.from_avro(MessageState, codec.decode(record.value, expect="MessageState")[1])
    return states, where


def offline_states(bootstrap: str) -> dict[str, MessageState]:
    """Every raw record on the broker, normalized by the provider modules as they
    are in this process and folded offline."""
    found: list[Receipt] = []
    for provider in providers.names():
        for record in read_topic(bootstrap, raw_topic(provider)):
            env = envelope.read(record.value, record.timestamp_ms * 1000)
            options = providers.Options(received_at=env["received_at"])
            found += [r for r in providers.normalize_all(provider, env["payload"], options)
                      if not isinstance(r, ReceiptError)]
    return fold_all(found)[0]


# ---- the tests ---------------------------------------------------------------------


def test_replay_of_a_processed_range_emits_nothing(
        broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path) -> None:
    lines = merged(sample_lines(), lines_of(60, first_id=1, seed=7))
    want = expect(lines)
    start(workers, broker, tmp_path / "w1")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    feed(broker.bootstrap, lines)
    wait_for(broker.bootstrap, want, workers)
    wait_idle(broker.bootstrap)
    before = marks(broker.bootstrap)

    # everything, every raw topic, by offset
    run = dlr("replay", "--broker", broker.bootstrap, "--from-offset", "0")
    assert run.code == 0, run.stderr
    s = run.summary
    assert s["read"] == sum(len(v) for v in lines.values())  # raw records; an Infobip line holds several reports
    reports = sum(len(providers.normalize_all(p, line)) for p, batch in lines.items() for line in batch)
    assert (s["receipts"], s["dead_lettered"]) == (reports - want.dead, want.dead)
    assert (s["changed"], s["status_changes"], s["charge_changes"]) == (0, 0, 0)
    assert (s["receipts_written"], s["dead_letters_written"]) == (0, 0)
    assert run.of_type("status_change", "charge_change") == []
    assert ", 0 receipts" not in run.stderr and "map differently than before: 0" in run.stderr

    # one provider, by time
    run = dlr("replay", "--broker", broker.bootstrap, "--provider", "vonage", "--from", since, "--to", "now")
    assert run.code == 0, run.stderr
    assert (run.summary["read"], run.summary["changed"]) == (len(lines["vonage"]), 0)

    time.sleep(SETTLE)
    assert marks(broker.bootstrap) == before  # no status change, no charge change, nothing written at all


def test_replay_after_a_mapping_change_emits_exactly_the_corrections(
        broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path, changed_mapping: Path) -> None:
    lines = sample_lines()
    want = expect(lines)
    start(workers, broker, tmp_path / "w1")
    feed(broker.bootstrap, lines)
    wait_for(broker.bootstrap, want, workers)
    wait_idle(broker.bootstrap)
    before = marks(broker.bootstrap)
    states_before, _ = changelog_states(broker.bootstrap, 1)
    expected = {"id": change_id(SUBMITTED, "status", "SENT"), "message_key": SUBMITTED, "previous": None,
                "status": "SENT", "final": False}

    # --dry-run: says what would change, writes nothing
    dry = dlr("replay", "--broker", broker.bootstrap, "--from-offset", "0", "--dry-run",
              env=with_mapping(changed_mapping))
    assert dry.code == 0, dry.stderr
    predicted = dry.of_type("status_change", "charge_change")
    assert [{k: c[k] for k in expected} for c in predicted] == [expected]
    s = dry.summary
    # the enroute receipt is news; the failed one set UNDELIVERED and means EXPIRED now: stale, for a rebuild
    assert (s["changed"], s["news"], s["stale"], s["newly_dead"]) == (2, 1, 1, 0)
    assert (s["status_changes"], s["charge_changes"], s["receipts_written"]) == (1, 0, 0)
    assert s["dead_lettered"] == want.dead - 1 and "dlr rebuild --dry-run" in dry.stderr
    time.sleep(SETTLE)
    assert marks(broker.bootstrap) == before
    assert changelog_states(broker.bootstrap, 1)[0] == states_before

    # the replay: exactly that change reaches the topic, as predicted
    run = dlr("replay", "--broker", broker.bootstrap, "--from-offset", "0", env=with_mapping(changed_mapping))
    assert run.code == 0, run.stderr
    assert run.of_type("status_change", "charge_change") == predicted
    assert (run.summary["receipts_written"], run.summary["dead_letters_written"], run.summary["folded"]) == (1, 0, True)
    time.sleep(SETTLE)
    got = changes_after(broker.bootstrap, before)
    assert got[CHARGE_CHANGES] == []
    assert [{k: c[k] for k in expected} for c in got[STATUS_CHANGES]] == [expected]
    after_fix = marks(broker.bootstrap)
    assert after_fix[DEAD_LETTER] == before[DEAD_LETTER]

    # replaying again: already folded, nothing new
    again = dlr("replay", "--broker", broker.bootstrap, "--from-offset", "0", env=with_mapping(changed_mapping))
    assert again.code == 0, again.stderr
    assert (again.summary["news"], again.summary["status_changes"], again.summary["receipts_written"]) == (0, 0, 0)
    time.sleep(SETTLE)
    assert marks(broker.bootstrap) == after_fix


def test_rebuild_into_a_new_version(
        broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path, changed_mapping: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = merged(sample_lines(), lines_of(60, first_id=1, seed=7))
    start(workers, broker, tmp_path / "w1")
    feed(broker.bootstrap, first)
    wait_for(broker.bootstrap, expect(first), workers)
    wait_idle(broker.bootstrap)
    before_rebuild = marks(broker.bootstrap)
    ids_before = {c["id"] for c in changes_after(broker.bootstrap, {t: {} for t in before_rebuild})[STATUS_CHANGES]}

    # step 1, the worker running: version 2 is built, consumers see nothing yet
    run = dlr("rebuild", "--broker", broker.bootstrap, env=with_mapping(changed_mapping))
    assert run.code == 0, run.stderr
    assert (run.summary["finish"], run.summary["resumed"]) == (False, False)
    assert run.summary["lowered"] > 1 and run.summary["new"] == 1 and run.summary["gone"] == 0
    assert run.of_type("status_change", "charge_change") == []
    assert "--version 2 --finish" in run.stderr and "DLR_STATE_VERSION=2" in run.stderr
    assert marks(broker.bootstrap)[STATUS_CHANGES] == before_rebuild[STATUS_CHANGES]

    # receipts keep arriving at version 1 meanwhile, then every worker stops
    second = lines_of(10, first_id=5001, seed=9)
    feed(broker.bootstrap, second)
    wait_for(broker.bootstrap, expect(second), workers)
    wait_idle(broker.bootstrap)
    workers[0].stop()
    before_finish = marks(broker.bootstrap)

    # step 2, the workers stopped: catch up, then the corrections
    run = dlr("rebuild", "--broker", broker.bootstrap, "--finish", env=with_mapping(changed_mapping))
    assert run.code == 0, run.stderr
    assert (run.summary["finish"], run.summary["resumed"]) == (True, True)
    assert run.summary["read"] == sum(len(v) for v in second.values())  # only what arrived since step 1

    old, old_where = changelog_states(broker.bootstrap, 1)
    new, new_where = changelog_states(broker.bootstrap, 2)
    assert offline_states(broker.bootstrap) == old
    with monkeypatch.context() as patch:
        for word, meaning in MAPPING_CHANGE.items():
            patch.setitem(vonage.STATUSES, word, meaning)
        assert offline_states(broker.bootstrap) == new  # the new version is the offline fold under the new mapping
    assert {key: new_where[key] for key in old_where} == old_where  # each key where Faust keeps it

    # consumers got exactly what moves them from version 1 to version 2
    time.sleep(SETTLE)
    got = changes_after(broker.bootstrap, before_finish)
    assert got[CHARGE_CHANGES] == []
    expected = {(k, old[k].status.value if k in old else None, s.status.value)
                for k, s in new.items() if k not in old or old[k].status is not s.status}
    assert {(c["message_key"], c["previous"], c["status"]) for c in got[STATUS_CHANGES]} == expected
    assert (FAILED, "UNDELIVERED", "EXPIRED") in expected and (SUBMITTED, None, "SENT") in expected
    lowered = [c for c in got[STATUS_CHANGES]
               if c["previous"] and RANK[Status(c["status"])] < RANK[Status(c["previous"])]]
    assert len(lowered) == run.summary["corrections"] == len(expected) - 1
    ids = [c["id"] for c in got[STATUS_CHANGES]]
    assert len(set(ids)) == len(ids) and not set(ids) & ids_before  # no correction is dropped as a repeat
    assert {c["id"] for c in got[STATUS_CHANGES] if c["message_key"] == SUBMITTED} == {
        change_id(SUBMITTED, "status", "SENT")}  # a move up keeps the fold's own id
    assert marks(broker.bootstrap)[RECEIPTS] == before_finish[RECEIPTS]

    # the same finish again says the same ids: deterministic
    again = dlr("rebuild", "--broker", broker.bootstrap, "--finish", "--dry-run", env=with_mapping(changed_mapping))
    assert again.code == 0, again.stderr
    assert sorted(c["id"] for c in again.of_type("status_change")) == sorted(ids)

    # a worker on version 2 (new mapping) recovers the rebuilt states: every receipt
    # again emits nothing, and a late delivery moves the lowered message up from EXPIRED
    worker = start(workers, broker, tmp_path / "w2", {"DLR_STATE_VERSION": "2", **with_mapping(changed_mapping)})
    worker.wait_web()
    before_v2 = marks(broker.bootstrap)
    late = (b"msisdn=447700900456&to=AcmeShop&network-code=23415&messageId=1A0000000F3C2B8E&price=0.03330000"
            b"&status=delivered&scts=2603121320&err-code=0&api-key=a1b2c3d4")
    feed(broker.bootstrap, merged(first, second, {"vonage": [late]}))
    delivered = change_id(FAILED, "status", "DELIVERED")
    deadline = time.monotonic() + 60
    while delivered not in {c["id"] for c in changes_after(broker.bootstrap, before_v2)[STATUS_CHANGES]}:
        assert time.monotonic() < deadline and not worker.crashed, worker.log_tail()
        time.sleep(0.5)
    wait_idle(broker.bootstrap)
    time.sleep(SETTLE)
    got = changes_after(broker.bootstrap, before_v2)
    assert got[CHARGE_CHANGES] == []
    assert [(c["id"], c["previous"], c["status"]) for c in got[STATUS_CHANGES]] == [
        (delivered, "EXPIRED", "DELIVERED")]

    # version 2 is live now: a rebuild refuses to write into it
    refused = dlr("rebuild", "--broker", broker.bootstrap, "--from-version", "1", "--version", "2")
    assert refused.code == 3 and "version 2 is live" in refused.stderr, refused.stderr
