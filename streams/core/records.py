"""Records <-> plain dicts, for Avro (times as int micros) and JSON (times as
ISO-8601 with Z). One generic conversion per record type, derived from the
dataclass fields, so the code's records and the schemas cannot drift apart
silently (tests round-trip every type through its schema)."""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum
from typing import Any, TypeVar

from streams.core.model import (
    ChargeChange,
    MessageState,
    Receipt,
    ReceiptError,
    StatusChange,
    iso,
    parse_iso,
)

T = TypeVar("T")

TIME_FIELDS = frozenset({"event_time", "charge_time", "received_at", "failed_at"})

# The `type` tag of each record in `dlr fold` / `dlr tail` output.
TYPE_TAGS: dict[type, str] = {
    StatusChange: "status_change",
    ChargeChange: "charge_change",
    MessageState: "state",
}


_ENUMS: dict[type, dict[str, type[Enum]]] = {}
_NAMES: dict[type, tuple[str, ...]] = {}
_TUPLES: dict[type, frozenset[str]] = {}

# Fields printed in JSON only when they hold something (`warnings`: a list that
# is empty for nearly every receipt).
OMITTED_WHEN_EMPTY = frozenset({"warnings"})


def _enum_fields(cls: type) -> dict[str, type[Enum]]:
    """Field name -> Enum class, for fields typed `SomeEnum` or `SomeEnum | None`."""
    if cls in _ENUMS:
        return _ENUMS[cls]
    found = _ENUMS[cls] = {}
    for name, hint in typing.get_type_hints(cls).items():
        for arg in typing.get_args(hint) or (hint,):
            if isinstance(arg, type) and issubclass(arg, Enum):
                found[name] = arg
    return found


def _tuple_fields(cls: type) -> frozenset[str]:
    """Fields typed `tuple[...]`: an Avro array, which decodes as a list."""
    if cls not in _TUPLES:
        _TUPLES[cls] = frozenset(
            name for name, hint in typing.get_type_hints(cls).items() if typing.get_origin(hint) is tuple
        )
    return _TUPLES[cls]


def _names(cls: type) -> tuple[str, ...]:
    if cls not in _NAMES:
        _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return _NAMES[cls]


def to_avro(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _names(type(record)):
        value = getattr(record, name)
        # An array is a list in a record dict, as Avro decodes it.
        out[name] = value.value if isinstance(value, Enum) else list(value) if type(value) is tuple else value
    return out


def from_avro(cls: type[T], data: dict[str, Any]) -> T:
    enums = _enum_fields(cls)
    tuples = _tuple_fields(cls)
    kwargs = {}
    for name in _names(cls):
        value = data.get(name)
        if value is not None and name in enums:
            value = enums[name](value)
        elif name in tuples:
            value = tuple(value or ())
        kwargs[name] = value
    return cls(**kwargs)


def to_json(record: Any) -> dict[str, Any]:
    # `dlr normalize` prints receipts untagged, their message key first.
    out: dict[str, Any] = (
        {"message_key": record.message_key} if isinstance(record, Receipt) else {"type": TYPE_TAGS[type(record)]}
    )
    for name, value in to_avro(record).items():
        if name in OMITTED_WHEN_EMPTY:
            if value:
                out[name] = value
            continue
        out[name] = iso(value) if name in TIME_FIELDS and value is not None else value
    return out


def receipt_from_json(data: dict[str, Any]) -> Receipt:
    """A canonical event as `dlr normalize` prints it; a bad one is a ReceiptError."""
    try:
        fields = {n: data.get(n) for n in _names(Receipt)}
        fields["event_time"] = parse_iso(str(data["event_time"]))
        warnings = fields["warnings"]
        if warnings is not None and (not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings)):
            raise TypeError(f"warnings is not a list of text: {warnings!r}")
        return from_avro(Receipt, fields)
    except (KeyError, ValueError, TypeError) as exc:
        raise ReceiptError(f"not a canonical receipt: {type(exc).__name__}: {exc}") from None
