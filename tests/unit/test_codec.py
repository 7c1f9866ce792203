"""Every record type round-trips through its Avro schema; framing is the Avro spec's."""

from __future__ import annotations

import json

import avro.schema
import fastavro
import pytest

from streams.core import records
from streams.core.fold import fold_all
from streams.core.model import ChargeStatus, ErrorCategory, Receipt, ReceiptError, Status
from streams.serde import codec

T0 = 1_780_000_000_123_456

RECEIPT = Receipt(
    provider="gatewayapi", message_id="42", status=Status.UNDELIVERED, final=True,
    provider_status="UNDELIVERABLE", event_time=T0, error_code="0x1013",
    error_category=ErrorCategory.UNREACHABLE, retryable=True, charge_status=ChargeStatus.FAILED,
    reference="ref-1", price="0.25", raw_time="1780000000",
)


def all_records() -> list[tuple[str, object]]:
    states, emitted = fold_all([
        RECEIPT,
        Receipt("gatewayapi", "42", Status.SENT, False, "ENROUTE", T0 - 5, charge_status=ChargeStatus.REFUND_FAIL),
    ])
    out: list[tuple[str, object]] = [("Receipt", RECEIPT)]
    out += [(type(e).__name__, e) for e in emitted]
    out += [("MessageState", s) for s in states.values()]
    return out


@pytest.mark.parametrize(("name", "record"), all_records(), ids=lambda v: v if isinstance(v, str) else "")
def test_round_trip(name: str, record: object) -> None:
    data = codec.encode(name, records.to_avro(record))
    decoded_name, decoded = codec.decode(data)
    assert decoded_name == name
    assert records.from_avro(type(record), decoded) == record


def test_every_emitted_type_is_covered() -> None:
    assert {n for n, _ in all_records()} == {"Receipt", "StatusChange", "ChargeChange", "MessageState"}


def test_raw_envelope_and_dead_letter_round_trip() -> None:
    raw = {"provider": "vonage", "received_at": T0, "transport": "http", "payload": b"\xff\x00raw",
           "content_type": "application/json", "method": "POST", "path": "/dlr/vonage", "query": None,
           "headers": {"user-agent": "x"}, "remote_addr": "127.0.0.1"}
    assert codec.decode(codec.encode("RawReceipt", raw)) == ("RawReceipt", raw)
    dead = {"reason": "bad", "stage": "normalize", "provider": None, "source_topic": "t",
            "source_partition": 1, "source_offset": 7, "source_key": None, "original": b"\x00",
            "payload": None, "failed_at": T0}
    assert codec.decode(codec.encode("DeadLetter", dead)) == ("DeadLetter", dead)


def test_single_object_framing_matches_the_avro_package() -> None:
    # Parsing Canonical Form drops logicalType and writes {"type": "long"} as
    # "long" ([PRIMITIVES]); avro 1.12 keeps the braces for logical types, so
    # it is asked about the schema with logical types stripped.
    for name in codec.RECORD_NAMES:
        stripped = codec._strip_logical(codec.public_schema(name))
        parsed = avro.schema.parse(json.dumps(stripped))
        assert codec.fingerprint(name) == parsed.fingerprint("CRC-64-AVRO")
    data = codec.encode("Receipt", records.to_avro(RECEIPT))
    assert data[:2] == b"\xc3\x01"


def test_consumer_decodes_with_schemas_dir_alone() -> None:
    schema = fastavro.schema.load_schema(str(codec.schema_path("StatusChange")))
    _, emitted = fold_all([RECEIPT])
    import io

    body = codec.encode("StatusChange", records.to_avro(emitted[0]))[10:]
    decoded = fastavro.schemaless_reader(io.BytesIO(body), schema)
    assert decoded["status"] == "UNDELIVERED" and decoded["event_time"].year == 2026


@pytest.mark.parametrize("data", [b"", b"junk", b"\xc3\x01" + b"\x00" * 8 + b"x", b"\xc3\x01" + bytes(8)])
def test_garbage_is_a_reason(data: bytes) -> None:
    with pytest.raises(ReceiptError):
        codec.decode(data)


def test_truncated_record_is_a_reason() -> None:
    data = codec.encode("Receipt", records.to_avro(RECEIPT))
    with pytest.raises(ReceiptError, match="undecodable Receipt"):
        codec.decode(data[:20])
