"""What the agents do to one record, as plain functions over bytes: testable
without Kafka, and the same code the offline commands run.

Every step returns what to write; none raises for bad input (a bad record
becomes a dead letter with its bytes and reason: Faust acks a message whose
agent raised, and it would be lost)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from streams import codec, envelope, providers, records
from streams.fold import fold
from streams.model import MessageState, Receipt, ReceiptError, StatusChange
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, RECEIPTS, STATUS_CHANGES


@dataclass(frozen=True, slots=True)
class Out:
    topic: str
    key: bytes | None
    value: bytes
    status: str | None = None  # the status a StatusChange reached, for the metrics


@dataclass(frozen=True, slots=True)
class Source:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_us: int


def source_of(event: Any) -> Source:
    """Where a Faust event came from."""
    message = event.message
    return Source(message.topic, message.partition, message.offset, message.key,
                  int(message.timestamp * 1_000_000))


# The original record always goes into a dead letter whole; the payload inside
# it only while small: the copy is for reading, and two copies of a 1 MB
# receipt would not fit one producer request.
PAYLOAD_COPY_LIMIT = 64 * 1024


def dead_letter(src: Source, original: bytes | None, reason: str, stage: str,
                provider: str | None = None, payload: bytes | None = None) -> Out:
    value = codec.encode("DeadLetter", {
        "reason": reason, "stage": stage, "provider": provider, "source_topic": src.topic,
        "source_partition": src.partition, "source_offset": src.offset, "source_key": src.key,
        "original": original or b"",
        "payload": payload if payload is None or len(payload) <= PAYLOAD_COPY_LIMIT else None,
        "failed_at": time.time_ns() // 1000,
    })
    return Out(DEAD_LETTER, src.key, value)


@dataclass(frozen=True, slots=True)
class Normalized:
    out: Out  # the receipt for dlr.receipts, or a dead letter
    receipt: Receipt | None = None


def normalize(provider: str, value: bytes | None, src: Source, options: providers.Options) -> Out:
    """A raw topic record -> a receipt for dlr.receipts keyed by message key, or a dead letter."""
    return normalize_receipt(provider, value, src, options).out


def normalize_receipt(provider: str, value: bytes | None, src: Source, options: providers.Options) -> Normalized:
    """As `normalize`, keeping the decoded receipt for folding on the spot."""
    payload = None
    try:
        env = envelope.read(value, src.timestamp_us)
        payload = env["payload"]
        if env["provider"] not in (None, provider):
            raise ReceiptError(f"envelope for provider {env['provider']!r} on {provider}'s raw topic")
        options = providers.Options(zones=options.zones, received_at=env["received_at"])
        receipt = providers.normalize(provider, payload, options)
    except ReceiptError as exc:
        return Normalized(dead_letter(src, value, str(exc), "normalize", provider, payload))
    out = Out(RECEIPTS, receipt.message_key.encode(), codec.encode("Receipt", records.to_avro(receipt)))
    return Normalized(out, receipt)


def decode_state(value: bytes | None) -> MessageState | None:
    if value is None:
        return None
    return records.from_avro(MessageState, codec.decode(value, expect="MessageState")[1])


def fold_one(state_bytes: bytes | None, value: bytes | None,
             src: Source) -> tuple[bytes | None, list[Out]]:
    """A receipt -> (new state bytes if the state changed, else None; outputs)."""
    try:
        if value is None:
            raise ReceiptError("empty record (tombstone)")
        receipt = records.from_avro(Receipt, codec.decode(value, expect="Receipt")[1])
    except (ReceiptError, ValueError, TypeError) as exc:
        return None, [dead_letter(src, value, str(exc), "fold")]
    return fold_receipt(state_bytes, receipt, src)


def fold_receipt(state_bytes: bytes | None, receipt: Receipt,
                 src: Source) -> tuple[bytes | None, list[Out]]:
    """A decoded receipt -> (new state bytes if the state changed, else None; outputs)."""
    try:
        state = decode_state(state_bytes)
    except (ReceiptError, ValueError, TypeError) as exc:  # a stored state we cannot read
        return None, [dead_letter(src, codec.encode("Receipt", records.to_avro(receipt)),
                                  f"unreadable stored state: {exc}", "fold")]
    new, emitted = fold(state, receipt)
    key = receipt.message_key.encode()
    outs = [
        Out(STATUS_CHANGES, key, codec.encode("StatusChange", records.to_avro(e)), e.status.value)
        if isinstance(e, StatusChange) else
        Out(CHARGE_CHANGES, key, codec.encode("ChargeChange", records.to_avro(e)))
        for e in emitted
    ]
    if new == state:
        return None, outs
    return codec.encode("MessageState", records.to_avro(new)), outs
