"""What the agents do to one record, as plain functions over bytes: testable
without Kafka, and the same code the offline commands run.

Every step returns what to write; none raises for bad input (a bad record
becomes a dead letter with its bytes and reason: Faust acks a message whose
agent raised, and it would be lost). A schema registry failure is not bad
input: `RegistryError` is never turned into a dead letter, it propagates.

Each output is encoded with the encoder of its topic (`Encoders`): Avro
single-object encoding, or the Confluent wire format with a registered schema
id when DLR_SCHEMA_REGISTRY_URL is set (streams.serde.registry). The encoders are
resolved once, by the worker at start-up (`use`), else at first use; per record
encoding is one call, from the record itself. Records are read in either
framing; the single-object encoding of the current schemas, the hot case, by
decoders compiled from them (streams.serde.compiled_codec)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from streams.core import providers
from streams.core.fold import fold
from streams.core.model import MessageState, Receipt, ReceiptError, StatusChange
from streams.kafka.clients import RawRecord
from streams.serde import encoders, envelope
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, RAW_PREFIX, RECEIPTS, STATUS_CHANGES


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
# A reason may quote the input; the original bytes are in the dead letter
# already, whole.
REASON_LIMIT = 500


def dead_letter(src: Source, original: bytes | None, reason: str, stage: str,
                provider: str | None = None, payload: bytes | None = None) -> Out:
    value = encoders.in_use().dead_letter({
        "reason": reason if len(reason) <= REASON_LIMIT else f"{reason[:REASON_LIMIT]}... (cut)",
        "stage": stage, "provider": provider, "source_topic": src.topic,
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


def normalize(provider: str, value: bytes | None, src: Source, options: providers.Options) -> list[Out]:
    """A raw topic record -> its receipts for dlr.receipts keyed by message key,
    and a dead letter for each report that cannot be read."""
    return [n.out for n in normalize_receipts(provider, value, src, options)]


def normalize_receipts(provider: str, value: bytes | None, src: Source, options: providers.Options
                       ) -> list[Normalized]:
    """As `normalize`, keeping each decoded receipt for folding on the spot.
    One raw record is one report at most providers and a batch at some
    (Infobip): a bad report is a dead letter of its own (with the whole
    original record and the report's number in the reason), and never costs
    its good siblings."""
    payload = None
    try:
        env = envelope.read(value, src.timestamp_us)
        payload = env["payload"]
        if env["provider"] not in (None, provider):
            raise ReceiptError(f"envelope for provider {env['provider']!r} on {provider}'s raw topic")
        # Per record: its own received time; the deployment's zones and mappings (DLR_MAPPINGS).
        options = providers.Options(zones=options.zones, received_at=env["received_at"], mappings=options.mappings)
    except ReceiptError as exc:
        return [Normalized(dead_letter(src, value, str(exc), "normalize", provider, payload))]
    encode = encoders.in_use().receipt
    out: list[Normalized] = []
    for result in providers.normalize_all(provider, payload, options):
        if isinstance(result, ReceiptError):
            out.append(Normalized(dead_letter(src, value, str(result), "normalize", provider, payload)))
        else:
            out.append(Normalized(Out(RECEIPTS, result.message_key.encode(), encode(result)), result))
    return out


@dataclass(frozen=True, slots=True)
class NormalizedRecord:
    """A raw topic record, or one report of it, and what the current code
    makes of it: the offline tools' unit (`dlr replay`, `dlr rebuild`)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    out: Out  # a receipt for dlr.receipts, or a dead letter
    receipt: Receipt | None  # the receipt `out` encodes; None for a dead letter

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return self.topic, self.partition, self.offset


def normalize_raw(record: RawRecord, options: providers.Options) -> list[NormalizedRecord]:
    """A record read off a raw topic (streams.kafka.clients.read_raw), normalized
    as the worker does: `normalize_receipts` with its provider and source, one
    item per report."""
    src = Source(record.topic, record.partition, record.offset, record.key, record.timestamp_ms * 1000)
    return [NormalizedRecord(record.topic, record.partition, record.offset, record.timestamp_ms, n.out, n.receipt)
            for n in normalize_receipts(record.topic.removeprefix(RAW_PREFIX), record.value, src, options)]


def decode_state(value: bytes | None) -> MessageState | None:
    if value is None:
        return None
    return encoders.in_use().read_state(value)


def fold_one(state_bytes: bytes | None, value: bytes | None,
             src: Source) -> tuple[bytes | None, list[Out]]:
    """A receipt -> (new state bytes if the state changed, else None; outputs)."""
    try:
        if value is None:
            raise ReceiptError("empty record (tombstone)")
        receipt = encoders.in_use().read_receipt(value)
    except (ReceiptError, ValueError, TypeError) as exc:  # not a RegistryError: that propagates
        return None, [dead_letter(src, value, str(exc), "fold")]
    return fold_receipt(state_bytes, receipt, src)


def fold_receipt(state_bytes: bytes | None, receipt: Receipt,
                 src: Source) -> tuple[bytes | None, list[Out]]:
    """A decoded receipt -> (new state bytes if the state changed, else None; outputs)."""
    enc = encoders.in_use()
    try:
        state = decode_state(state_bytes)
    except (ReceiptError, ValueError, TypeError) as exc:  # a stored state we cannot read
        return None, [dead_letter(src, enc.receipt(receipt), f"unreadable stored state: {exc}", "fold")]
    new, emitted = fold(state, receipt)
    key = receipt.message_key.encode()
    outs = [
        Out(STATUS_CHANGES, key, enc.status_change(e), e.status.value)
        if isinstance(e, StatusChange) else
        Out(CHARGE_CHANGES, key, enc.charge_change(e))
        for e in emitted
    ]
    if new == state:
        return None, outs
    return enc.state(new), outs
