"""The encoder of each output topic and the decoders of what the fold reads
back, resolved once: Avro single-object encoding, or the Confluent wire format
with a registered schema id when DLR_SCHEMA_REGISTRY_URL is set
(streams.serde.registry). The worker resolves them at start-up (`use`), so a
registry that cannot be reached stops the start, never a record; anything else
resolves them at first use (`in_use`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams import settings
from streams.core import records
from streams.core.model import ChargeChange, MessageState, Receipt, StatusChange
from streams.serde import compiled_codec
from streams.serde.registry import Encoder, Registry, decode_any, encoder_for, record_encoder_for
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, RECEIPTS, REPARTITION, STATUS_CHANGES, changelog


@dataclass(frozen=True, slots=True)
class Encoders:
    """The encoder of each output topic, the decoders of what the fold reads
    back (receipts off the repartition topic, stored states), and the
    registry records are read with (None: the configured one, if any)."""

    receipt: Callable[[Receipt], bytes]  # dlr.receipts (and the repartition topic, same bytes)
    status_change: Callable[[StatusChange], bytes]  # dlr.status-changes
    charge_change: Callable[[ChargeChange], bytes]  # dlr.charge-changes
    dead_letter: Encoder  # dlr.dead-letter, from a dict
    state: Callable[[MessageState], bytes]  # the state table's changelog
    read_receipt: Callable[[bytes], Receipt]  # either framing; ReceiptError, ValueError or TypeError if bad
    read_state: Callable[[bytes], MessageState]
    registry: Registry | None = None

    @classmethod
    def resolve(cls, state_version: int = 1, registry: Registry | None = None) -> Encoders:
        """Every output's encoder: with a registry (given, or configured by
        DLR_SCHEMA_REGISTRY_URL) each schema is registered under
        `<topic>-value` now, so a registry that cannot be reached or refuses a
        schema raises RegistryError here, before any record is read."""
        receipt = record_encoder_for(RECEIPTS, Receipt, registry)
        # The repartition topic carries dlr.receipts' bytes as they are; the
        # registry gives the same schema the same id under every subject.
        encoder_for(REPARTITION, "Receipt", registry)

        # What is not the current schema's single-object encoding is read as
        # before: either framing, a released schema, the same errors.
        def any_receipt(value: bytes) -> Receipt:
            return records.from_avro(Receipt, decode_any(value, "Receipt", registry)[1])

        def any_state(value: bytes) -> MessageState:
            return records.from_avro(MessageState, decode_any(value, "MessageState", registry)[1])

        return cls(receipt, record_encoder_for(STATUS_CHANGES, StatusChange, registry),
                   record_encoder_for(CHARGE_CHANGES, ChargeChange, registry),
                   encoder_for(DEAD_LETTER, "DeadLetter", registry),
                   record_encoder_for(changelog(state_version), MessageState, registry),
                   compiled_codec.decoder(Receipt, any_receipt), compiled_codec.decoder(MessageState, any_state),
                   registry)


_encoders: Encoders | None = None


def use(encoders: Encoders | None) -> None:
    """Set the encoders every step writes with (None: resolve them again from
    the settings at next use)."""
    global _encoders
    _encoders = encoders


def in_use() -> Encoders:
    """The encoders in use: those given to `use`, else resolved from the
    settings (DLR_SCHEMA_REGISTRY_URL, DLR_STATE_VERSION) once."""
    global _encoders
    if _encoders is None:
        _encoders = Encoders.resolve(settings.get_int("state_version"))
    return _encoders
