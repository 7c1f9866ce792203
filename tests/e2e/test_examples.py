"""The consumer examples as a billing or analytics team runs them: real
scripts in subprocesses against the embedded broker, reading change records
encoded as the worker encodes them, with a duplicate that must be dropped:
single-object encoded, and in the Confluent wire format with a schema registry
(the stand-in of tests/fake_registry.py: no real registry runs here)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.core import providers, records, samples
from streams.core.fold import Emitted, fold_all
from streams.core.model import ChargeChange, ChargeStatus, Receipt, ReceiptError, Status, StatusChange
from streams.kafka.admin import client_config, ensure_topics
from streams.kafka.broker import EmbeddedBroker
from streams.serde import codec
from streams.serde.registry import ConfluentClient, Registry
from streams.topics import CHARGE_CHANGES, STATUS_CHANGES
from tests.fake_registry import serve

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_780_000_000_000_000


def receipts() -> list[Receipt]:
    found: list[Receipt] = []
    for provider, lines in samples.all_lines().items():
        for line in lines:
            found += [r for r in providers.normalize_all(provider, line, providers.Options(received_at=0))
                      if not isinstance(r, ReceiptError)]
    return [
        *found,
        # a charge captured and later refunded
        Receipt("gatewayapi", "e2e-1", Status.DELIVERED, True, "DELIVERED", T0, charge_status=ChargeStatus.CAPTURED,
                price="0.45"),
        Receipt("gatewayapi", "e2e-1", Status.DELIVERED, True, "DELIVERED", T0 + 5, charge_status=ChargeStatus.REFUNDED,
                price="0.45"),
        # expired, then delivered late: counted once, as DELIVERED
        Receipt("smpp", "e2e-2", Status.EXPIRED, True, "EXPIRED", T0),
        Receipt("smpp", "e2e-2", Status.DELIVERED, True, "DELIVRD", T0 + 9),
    ]


def emitted() -> list[Emitted]:
    return fold_all(receipts())[1]


Encode = Callable[[str, Emitted], bytes]  # (topic, change) -> value


def single_object(_topic: str, change: Emitted) -> bytes:
    return codec.encode(type(change).__name__, records.to_avro(change))


@pytest.fixture(scope="module", params=["single-object", "confluent"])
def changes_broker(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """(bootstrap, the examples' extra arguments) of a broker holding the changes."""
    with contextlib.ExitStack() as stack:
        running = stack.enter_context(EmbeddedBroker("noida", data_dir=tmp_path_factory.mktemp("broker")))
        ensure_topics(running.bootstrap, 4)
        encode: Encode = single_object
        extra: list[str] = []
        if request.param == "confluent":
            url, _, _ = stack.enter_context(serve())
            registry = Registry(ConfluentClient(url))

            def encode(topic: str, change: Emitted) -> bytes:
                return registry.encode(topic, type(change).__name__, records.to_avro(change))

            extra = ["--registry", url]
        changes = emitted()
        duplicate_status = next(e for e in changes if isinstance(e, StatusChange) and e.final)
        duplicate_charge = next(e for e in changes if isinstance(e, ChargeChange)
                                and e.charge_status is ChargeStatus.CAPTURED)
        write(running.bootstrap, [*changes, duplicate_status, duplicate_charge], encode)  # a replay's repeats
        yield running.bootstrap, extra


def write(bootstrap: str, changes: list[Emitted], encode: Encode = single_object) -> None:
    from confluent_kafka import Producer

    producer = Producer(client_config(bootstrap, {"partitioner": "murmur2_random"}))
    for change in changes:
        topic = STATUS_CHANGES if isinstance(change, StatusChange) else CHARGE_CHANGES
        producer.produce(topic, encode(topic, change), key=change.message_key.encode())
    assert producer.flush(30) == 0


def run_example(name: str, bootstrap: str, extra: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--broker", bootstrap,
         "--group", f"e2e-{uuid.uuid4().hex[:8]}", "--max-idle", "6", *extra],
        capture_output=True, text=True, timeout=120, cwd=ROOT / "examples", check=False,
    )


def test_billing_prints_each_billable_event_once(changes_broker: tuple[str, list[str]]) -> None:
    result = run_example("billing_consumer.py", *changes_broker)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    billable = {e.id: e for e in emitted() if isinstance(e, ChargeChange) and not e.notification
                and e.charge_status in (ChargeStatus.CAPTURED, ChargeStatus.REFUNDED)}
    assert sorted(e["id"] for e in events) == sorted(billable)  # each once: the repeat was dropped
    actions = {e["id"]: e["action"] for e in events}
    assert Counter(actions.values()) == {"charge": 2, "refund": 1}
    refund = next(e for e in events if e["action"] == "refund")
    assert refund["message_key"] == "gatewayapi:e2e-1" and refund["price"] == "0.45"
    charges = sum(isinstance(e, ChargeChange) for e in emitted())
    assert f"{charges + 1} read, 1 duplicates dropped, 3 billable" in result.stderr


def test_analytics_counts_final_statuses_per_provider_once(changes_broker: tuple[str, list[str]]) -> None:
    result = run_example("analytics_consumer.py", *changes_broker)
    assert result.returncode == 0, result.stderr
    latest: dict[str, StatusChange] = {}
    for change in emitted():
        if isinstance(change, StatusChange) and change.final:
            latest[change.message_key] = change
    want: dict[str, Counter[str]] = defaultdict(Counter)
    for change in latest.values():
        want[change.provider][change.status.value] += 1
    assert json.loads(result.stdout) == {p: dict(c) for p, c in want.items()}
    assert latest["smpp:e2e-2"].status is Status.DELIVERED  # the late delivery replaced the expiry
    statuses = sum(isinstance(e, StatusChange) for e in emitted())
    assert f"{statuses + 1} read, 1 duplicates dropped" in result.stderr
