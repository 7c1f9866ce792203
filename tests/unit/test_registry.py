"""Schema registry framing: the Confluent wire format beside single-object
encoding. The framing logic runs against an in-memory client; the adapter
runs the real confluent_kafka SchemaRegistryClient against a local HTTP
server that speaks the registry's REST calls it makes (tests/fake_registry.py:
no real registry can run on the test machines)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import fastavro
import pytest

from streams.core import records
from streams.core.fold import fold_all
from streams.core.model import ChargeStatus, Receipt, ReceiptError, Status
from streams.serde import codec, registry
from streams.serde.registry import ConfluentClient, Registry, RegistryError, decode_any, encoder_for
from streams.topics import CHANGELOG, CHARGE_CHANGES, DEAD_LETTER, RECEIPTS, STATUS_CHANGES, raw_topic
from tests.fake_registry import FakeClient, serve

T0 = 1_780_000_000_123_456
RECEIPT = Receipt("vonage", "m-1", Status.DELIVERED, True, "delivered", T0, reference="r", price="0.03",
                  charge_status=ChargeStatus.CAPTURED)


def samples() -> list[tuple[str, str, dict[str, Any]]]:
    states, emitted = fold_all([RECEIPT])
    out = [(RECEIPTS, "Receipt", records.to_avro(RECEIPT))]
    out += [(STATUS_CHANGES if type(e).__name__ == "StatusChange" else CHARGE_CHANGES, type(e).__name__,
             records.to_avro(e)) for e in emitted]
    out += [(CHANGELOG, "MessageState", records.to_avro(s)) for s in states.values()]
    out.append((DEAD_LETTER, "DeadLetter", {
        "reason": "bad", "stage": "normalize", "provider": None, "source_topic": "t", "source_partition": 0,
        "source_offset": 1, "source_key": None, "original": b"\x00", "payload": None, "failed_at": T0}))
    out.append((raw_topic("vonage"), "RawReceipt", {
        "provider": "vonage", "received_at": T0, "transport": "http", "payload": b"x=1", "content_type": None,
        "method": "POST", "path": "/", "query": None, "headers": {}, "remote_addr": None}))
    return out


@pytest.fixture
def no_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DLR_SCHEMA_REGISTRY_URL", raising=False)
    registry.default_registry.cache_clear()
    yield
    registry.default_registry.cache_clear()


@pytest.mark.parametrize(("topic", "name", "record"), samples(), ids=lambda v: v if isinstance(v, str) else "")
def test_confluent_round_trip(topic: str, name: str, record: dict[str, Any]) -> None:
    client = FakeClient()
    reg = Registry(client)
    data = encoder_for(topic, name, reg)(record)
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    assert client.subjects == {f"{topic}-value": [schema_id]}
    assert json.loads(client.lookup(schema_id)) == codec.public_schema(name)
    # the body is plain Avro of the registered schema: what any Confluent deserializer reads
    assert data[5:] == codec.encode(name, record)[10:]
    assert decode_any(data, registry=reg) == (name, record)
    assert decode_any(data, expect=name, registry=Registry(client)) == (name, record)  # a fresh reader looks it up


def test_ids_are_cached_after_the_first_record() -> None:
    client = FakeClient()
    reg = Registry(client)
    _, name, record = samples()[0]
    first = reg.encode(RECEIPTS, name, record)
    calls = client.calls
    for _ in range(3):
        assert reg.encode(RECEIPTS, name, record) == first
        reg.decode(first)
    assert client.calls == calls


def test_same_schema_on_two_topics_is_two_subjects_one_id() -> None:
    client = FakeClient()
    reg = Registry(client)
    assert reg.schema_id(STATUS_CHANGES, "StatusChange") == reg.schema_id("dlr.status-changes-v2", "StatusChange")
    assert set(client.subjects) == {"dlr.status-changes-value", "dlr.status-changes-v2-value"}


def test_an_older_writer_schema_is_resolved_into_the_current_one() -> None:
    client = FakeClient()
    old = codec.public_schema("StatusChange")
    old = {**old, "fields": [f for f in old["fields"] if f["name"] != "reference"]}
    old_id = client.register("dlr.status-changes-value", json.dumps(old))
    _, emitted = fold_all([RECEIPT])
    record = records.to_avro(emitted[0])
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(codec._strip_logical(old)),
                               {k: v for k, v in record.items() if k != "reference"})
    data = b"\x00" + old_id.to_bytes(4, "big") + body.getvalue()
    name, decoded = decode_any(data, registry=Registry(client))
    assert name == "StatusChange"
    assert decoded == {**record, "reference": None}


def test_wrong_record_and_foreign_schema_are_reasons() -> None:
    client = FakeClient()
    reg = Registry(client)
    data = reg.encode(RECEIPTS, "Receipt", records.to_avro(RECEIPT))
    with pytest.raises(ReceiptError, match="expected a StatusChange, got a Receipt"):
        reg.decode(data, expect="StatusChange")
    foreign = client.register("other-value", json.dumps({"type": "record", "name": "Order", "fields": []}))
    with pytest.raises(ReceiptError, match="not a dlr-streams record"):
        reg.decode(b"\x00" + foreign.to_bytes(4, "big") + b"\x00")
    with pytest.raises(ReceiptError, match="undecodable Receipt"):
        reg.decode(data[:12])


def test_a_registry_outage_is_not_a_bad_record() -> None:
    client = FakeClient()
    data = Registry(client).encode(RECEIPTS, "Receipt", records.to_avro(RECEIPT))
    client.down = True
    with pytest.raises(RegistryError) as caught:
        Registry(client).decode(data)
    assert not isinstance(caught.value, ValueError)  # the steps dead-letter ValueErrors; this must not be one
    with pytest.raises(RegistryError):
        encoder_for(RECEIPTS, "Receipt", Registry(client))


@pytest.mark.usefixtures("no_registry")
def test_without_a_registry_values_stay_single_object_encoded() -> None:
    record = records.to_avro(RECEIPT)
    encode = encoder_for(RECEIPTS, "Receipt")
    assert encode(record) == codec.encode("Receipt", record)
    registry.encoder.cache_clear()
    assert registry.encoder(RECEIPTS, "Receipt") is registry.encoder(RECEIPTS, "Receipt")
    assert registry.encoder(RECEIPTS, "Receipt")(record) == codec.encode("Receipt", record)
    registry.encoder.cache_clear()
    assert decode_any(encode(record)) == ("Receipt", record)
    confluent = Registry(FakeClient()).encode(RECEIPTS, "Receipt", record)
    with pytest.raises(ReceiptError, match="no schema registry configured"):
        decode_any(confluent)


@pytest.mark.parametrize("data", [b"", b"junk", b"\x00\x00", b"{\"a\":1}"])
def test_garbage_is_a_reason(data: bytes) -> None:
    with pytest.raises(ReceiptError):
        decode_any(data, registry=Registry(FakeClient()))


def test_is_framed() -> None:
    record = records.to_avro(RECEIPT)
    assert registry.is_framed(codec.encode("Receipt", record))
    assert registry.is_framed(Registry(FakeClient()).encode(RECEIPTS, "Receipt", record))
    assert not registry.is_framed(b"id:3f9a1c07 sub:001 stat:DELIVRD")
    assert not registry.is_framed(None)


def test_encoder_checks_the_topic_carries_the_record() -> None:
    with pytest.raises(ValueError, match="carries StatusChange"):
        encoder_for(STATUS_CHANGES, "ChargeChange", Registry(FakeClient()))
    with pytest.raises(ValueError, match="unknown record"):
        encoder_for(STATUS_CHANGES, "Nope", Registry(FakeClient()))


# --- the real client, against a local stand-in of the registry's REST API ---


@pytest.fixture
def http_registry() -> Iterator[tuple[str, FakeClient, list[str | None]]]:
    with serve() as running:
        yield running


def test_confluent_client_registers_and_looks_up(http_registry: tuple[str, FakeClient, list[str | None]]) -> None:
    url, store, auth = http_registry
    record = records.to_avro(RECEIPT)
    data = Registry(ConfluentClient(url, "dlr:s3cret")).encode(RECEIPTS, "Receipt", record)
    assert list(store.subjects) == ["dlr.receipts-value"]
    assert auth[0] is not None and auth[0].startswith("Basic ")
    assert Registry(ConfluentClient(url)).decode(data) == ("Receipt", record)
    with pytest.raises(ReceiptError, match="unknown schema id 99"):  # a bad record: dead-lettered
        Registry(ConfluentClient(url)).decode(b"\x00" + (99).to_bytes(4, "big") + b"\x00")
    with pytest.raises(RegistryError, match="schema id 500"):  # the registry failing: retried, never dropped
        Registry(ConfluentClient(url, extra={"max.retries": 0})).decode(b"\x00" + (500).to_bytes(4, "big") + b"\x00")


def test_the_setting_selects_the_registry(monkeypatch: pytest.MonkeyPatch,
                                         http_registry: tuple[str, FakeClient, list[str | None]]) -> None:
    url, store, _ = http_registry
    monkeypatch.setenv("DLR_SCHEMA_REGISTRY_URL", url)
    registry.default_registry.cache_clear()
    try:
        data = encoder_for(DEAD_LETTER, "DeadLetter")(samples()[-2][2])
        assert data[0] == 0 and list(store.subjects) == ["dlr.dead-letter-value"]
        assert decode_any(data)[0] == "DeadLetter"
    finally:
        registry.default_registry.cache_clear()
