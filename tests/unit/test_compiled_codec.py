"""The codec compiled from the schemas (streams.serde.compiled_codec) gives what
fastavro gives through streams.serde.codec and streams.core.records: the same bytes for
every record, the same record for every encoding, and for anything else
(truncated, mutated, other framing, trailing bytes, values fastavro refuses)
the same result or the same error, type and message."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core import records
from streams.core.model import ChargeStatus, ErrorCategory, MessageState, Receipt, Status
from streams.serde import codec, compiled_codec
from streams.serde.compiled_codec import CLASSES
from tests.budget import every, examples

LONGS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-200, 200),
                  st.integers(1_700_000_000_000_000, 1_900_000_000_000_000),
                  st.sampled_from([-(2**63), 2**63 - 1, 0, -1, 63, 64, -64, -65, 2**55, 2**56, -(2**56)]))
TEXT = st.one_of(st.text(), st.text(max_size=3), st.text(min_size=60, max_size=9000),
                 st.text(st.characters(codec="ascii")))
BINARY = st.one_of(st.binary(), st.binary(min_size=60, max_size=9000))

SETTINGS = settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _value(hint: Any) -> st.SearchStrategy[Any]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return st.one_of(*(st.none() if a is type(None) else _value(a) for a in args))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if hint is bool:
        return st.booleans()
    if hint is int:
        return LONGS
    if hint is str:
        return TEXT
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(_value(args[0]), max_size=4).map(tuple)
    raise AssertionError(f"no strategy for {hint!r}")


def objects(cls: type) -> st.SearchStrategy[Any]:
    """Any record of a class, from its fields' types (None for every optional)."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _value(hints[f.name]) for f in dataclasses.fields(cls)})


def _schema_value(node: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a schema type, read from the schema's JSON (not the compiler's view of it)."""
    if isinstance(node, list):
        return st.one_of(*(_schema_value(n, named) for n in node))
    if isinstance(node, dict):
        if node["type"] == "enum":
            named[node["name"]] = node
            return st.sampled_from(node["symbols"])
        if node["type"] == "map":
            return st.dictionaries(TEXT, _schema_value(node["values"], named), max_size=4)
        if node["type"] == "array":
            return st.lists(_schema_value(node["items"], named), max_size=4)
        return _schema_value(node["type"], named)
    if node in named:
        return st.sampled_from(named[node]["symbols"])
    return {"null": st.none(), "string": TEXT, "bytes": BINARY, "long": LONGS,
            "int": st.integers(-(2**31), 2**31 - 1), "boolean": st.booleans()}[node]


def dicts(name: str) -> st.SearchStrategy[dict[str, Any]]:
    named: dict[str, Any] = {}
    fields = codec._strip_logical(codec.public_schema(name))["fields"]
    return st.fixed_dictionaries({f["name"]: _schema_value(f["type"], named) for f in fields})


def _no_fallback(value: object) -> typing.NoReturn:
    raise AssertionError(f"the fallback was taken for {value!r}")


def _outcome(call: Callable[[Any], object], arg: object) -> tuple[str, object]:
    try:
        return "ok", call(arg)
    except Exception as exc:  # fastavro names the BytesIO it read, by address: not ours to match
        return type(exc).__name__, re.sub(r" at 0x[0-9a-f]+", " at 0x...", str(exc))


def test_every_record_compiles() -> None:
    # A schema change the generator does not follow would leave its record on
    # fastavro, correct but slow: this says so.
    for name in codec.RECORD_NAMES:
        assert compiled_codec.is_compiled(name), name


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_objects_encode_as_fastavro_and_decode_back(cls: type, data: st.DataObject) -> None:
    record = data.draw(objects(cls))
    name = cls.__name__
    expected = codec.encode(name, records.to_avro(record))
    assert compiled_codec._compiled("encode", name, cls, _no_fallback)(record) == expected
    assert compiled_codec.encoder(cls)(record) == expected
    assert compiled_codec.dict_encoder(name)(records.to_avro(record)) == expected
    decoded = compiled_codec._compiled("decode", name, cls, _no_fallback)(expected)
    assert type(decoded) is cls
    assert decoded == record and hash(decoded) == hash(record) and repr(decoded) == repr(record)
    assert compiled_codec.dict_decoder(name)(expected) == codec.decode(expected, name)[1]


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
@SETTINGS
@given(data=st.data())
def test_dicts_encode_as_fastavro_and_decode_back(name: str, data: st.DataObject) -> None:
    record = data.draw(dicts(name))
    expected = codec.encode(name, record)
    assert compiled_codec._compiled("encode", name, None, _no_fallback)(record) == expected
    decoded = compiled_codec._compiled("decode", name, None, _no_fallback)(expected)
    assert decoded == codec.decode(expected, name)[1]
    assert list(decoded) == [f["name"] for f in codec.public_schema(name)["fields"]]  # fastavro's order


def test_decoded_records_are_frozen_and_what_init_builds() -> None:
    # Built as a plain twin class, then made the frozen class (compiled_codec._unfrozen_twin).
    for cls in CLASSES.values():
        values = {f.name: f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls)}
        plain = cls(**values)
        decode = compiled_codec._compiled("decode", cls.__name__, cls, _no_fallback)
        source = compiled_codec.source("decode", cls.__name__, cls)
        assert "__class__" in source  # the twin is in use here
        record = decode(codec.encode(cls.__name__, _valid(cls)))
        assert type(record) is cls and not hasattr(record, "__dict__")
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.provider = "x"
        assert dataclasses.replace(record, **values) == plain


def _valid(cls: type) -> dict[str, Any]:
    return records.to_avro(cls(**{f.name: _sample(t) for f, t in zip(dataclasses.fields(cls),
                                  typing.get_type_hints(cls).values(), strict=True)}))


def _sample(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = args[0]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return list(kind)[-1]
    return {bool: True, int: 1_780_000_000_123_456, str: "ÆØÅ-x"}[kind]


def _sample_dict(name: str, nulls: bool) -> dict[str, Any]:
    """A record with every field set, or with None wherever the schema allows it."""
    named: dict[str, Any] = {}

    def sample(node: Any) -> Any:
        if isinstance(node, list):
            value = sample(next(n for n in node if n != "null"))  # even for None: it may define a type
            return None if nulls else value
        if isinstance(node, dict):
            if node["type"] == "enum":
                named[node["name"]] = node
                return node["symbols"][-1]
            if node["type"] == "map":
                return {} if nulls else {"user-agent": "x", "ÆØÅ": sample(node["values"])}
            if node["type"] == "array":
                return [] if nulls else [sample(node["items"]), sample(node["items"])]
            return sample(node["type"])
        if node in named:
            return named[node]["symbols"][-1]
        return {"string": "ÆØÅ-x", "bytes": b"\xff\x00raw", "long": 1_780_000_000_123_456, "int": 7,
                "boolean": True}[node]

    return {f["name"]: sample(f["type"]) for f in codec._strip_logical(codec.public_schema(name))["fields"]}


# --- bytes that are not a current-schema encoding: the fallback's result or error ----------


def _decoders(name: str) -> list[tuple[Callable[[bytes], object], Callable[[bytes], object]]]:
    """(compiled, old path) pairs for a record: to its class, and to a dict."""
    pairs: list[tuple[Callable[[bytes], object], Callable[[bytes], object]]] = [
        (compiled_codec.dict_decoder(name), lambda data: codec.decode(data, name)[1])]
    if name in CLASSES:
        cls = CLASSES[name]
        pairs.append((compiled_codec.decoder(cls), lambda data: records.from_avro(cls, codec.decode(data, name)[1])))
    return pairs


def _same_outcome(name: str, data: bytes) -> None:
    for compiled, old in _decoders(name):
        assert _outcome(compiled, data) == _outcome(old, data), data


def _encodings(name: str) -> st.SearchStrategy[bytes]:
    cls = CLASSES.get(name)
    if cls is None:
        return dicts(name).map(lambda r: codec.encode(name, r))
    return objects(cls).map(lambda r: codec.encode(name, records.to_avro(r)))


@st.composite
def _damaged(draw: st.DrawFn, name: str) -> bytes:
    data = bytearray(draw(_encodings(name)))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["cut", "flip", "set", "insert", "trail", "delete"]))
        at = draw(st.integers(10, max(10, len(data))))
        if how == "cut":
            del data[at:]
        elif how == "trail":
            data += draw(st.binary(min_size=1, max_size=12))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif at < len(data):
            if how == "delete":
                del data[at]
            else:
                byte = draw(st.integers(0, 255))
                data[at] = byte if how == "set" else data[at] ^ (1 << draw(st.integers(0, 7)))
    return bytes(data)


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
@MANY
@given(data=st.data())
def test_damaged_encodings_read_as_fastavro_reads_them(name: str, data: st.DataObject) -> None:
    _same_outcome(name, data.draw(_damaged(name)))


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
@SETTINGS
@given(body=st.binary(max_size=200), small=st.lists(st.sampled_from(b"\x00\x01\x02\x03\x04\x7f\x80\xff"),
                                                     max_size=60))
def test_arbitrary_bodies_read_as_fastavro_reads_them(name: str, body: bytes, small: list[int]) -> None:
    head = codec.MAGIC + codec.fingerprint(name)
    _same_outcome(name, head + body)
    _same_outcome(name, head + bytes(small))  # bytes that are mostly small varints get further in


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
@SETTINGS
@given(data=st.binary(max_size=60), other=st.sampled_from(codec.RECORD_NAMES))
def test_other_framings_read_as_fastavro_reads_them(name: str, data: bytes, other: str) -> None:
    _same_outcome(name, data)  # mostly not framed at all
    _same_outcome(name, b"\x00\x00\x00\x00\x01" + data)  # Confluent framing, no registry
    _same_outcome(name, codec.MAGIC + codec.fingerprint(other) + data)  # another record, or this one


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
@FEW
@given(data=st.data())
def test_every_cut_of_an_encoding_reads_as_fastavro_reads_it(name: str, data: st.DataObject) -> None:
    encoded = data.draw(_encodings(name))
    for end in range(len(encoded)):
        _same_outcome(name, encoded[:end])


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
def test_every_byte_at_every_place_reads_as_fastavro_reads_it(name: str) -> None:
    # Every union and enum index, boolean and length byte takes every value
    # (an enum index past the symbols, a union index past the branches, ...).
    for record in (_sample_dict(name, nulls=False), _sample_dict(name, nulls=True)):
        encoded = codec.encode(name, record)
        for at in range(10, len(encoded), every(4)):
            for byte in range(256):
                _same_outcome(name, encoded[:at] + bytes((byte,)) + encoded[at + 1:])


def test_trailing_bytes_take_the_fallback() -> None:
    # fastavro reads a record and ignores what follows; the compiled decoder
    # reads only exact bodies and leaves the rest to it, whatever it does.
    encoded = codec.encode("Receipt", _valid(Receipt))
    taken: list[bytes] = []
    decode = compiled_codec.decoder(Receipt, lambda data: taken.append(data) or None)  # type: ignore[func-returns-value]
    decode(encoded)
    assert taken == []
    decode(encoded + b"\x00")
    assert taken == [encoded + b"\x00"]
    assert records.from_avro(Receipt, codec.decode(encoded + b"\x00")[1]) == compiled_codec.decoder(Receipt)(encoded)


def test_fastavro_quirks_are_left_to_fastavro() -> None:
    # Bytes fastavro reads in its own way, each a valid Receipt with one thing
    # changed: the compiled decoder must not read them in another.
    body = codec.encode("Receipt", _valid(Receipt))[10:]
    text = len("ÆØÅ-x".encode())  # every string of _valid(...)
    length, status, final = 1 + text, 2 * (1 + text), 2 * (1 + text) + 1  # message_id's length, ...
    variants = {
        "status index -1: fastavro counts from the end": body[:status] + b"\x01" + body[status + 1:],
        "status index 0 in two bytes": body[:status] + b"\x80\x00" + body[status + 1:],
        "final 7: any byte but 0 is True": body[:final] + b"\x07" + body[final + 1:],
        "a length in 10 bytes": body[:length] + b"\x90" + b"\x80" * 8 + b"\x00" + body[length + 1:],
        "a length fastavro wraps to 8": body[:length] + b"\x90" + b"\x80" * 8 + b"\x02" + body[length + 1:],
        "a length in 11 bytes": body[:length] + b"\x90" + b"\x80" * 9 + b"\x00" + body[length + 1:],
    }
    at = 2 * (1 + text) + 2 + (1 + text)  # event_time: 8 bytes
    when = int.from_bytes(body[at:at + 8], "little")
    n = sum(((when >> 8 * i) & 0x7F) << 7 * i for i in range(8))  # the zigzag value
    ten = bytes((n >> 7 * i) & 0x7F | 0x80 for i in range(9))
    variants["event_time in 10 bytes"] = body[:at] + ten + bytes((n >> 63,)) + body[at + 8:]
    variants["event_time fastavro wraps"] = body[:at] + ten + bytes((n >> 63 | 2,)) + body[at + 8:]
    variants["event_time fastavro wraps more"] = body[:at] + ten + bytes((n >> 63 | 0x7E,)) + body[at + 8:]
    head = codec.MAGIC + codec.fingerprint("Receipt")
    assert codec.decode(head + variants["event_time in 10 bytes"])[1]["event_time"] == _valid(Receipt)["event_time"]
    for why, variant in variants.items():
        assert variant != body, why
        _same_outcome("Receipt", head + variant)
    assert _outcome(compiled_codec.decoder(Receipt), head + variants["a length fastavro wraps to 8"])[0] == "ok"


# --- values fastavro refuses, or takes in its own way: the same bytes or the same error ------


class Text(str):
    pass


class Plain(Enum):
    SENT = "SENT"


ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(),
    st.sampled_from([0, 1, -1, 0.0, 1.0, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 2**64 - 1, 2**64, -(2**64)]),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),  # lone surrogates
    st.binary(max_size=4), st.sampled_from([*Status, *ChargeStatus, *ErrorCategory, Plain.SENT]),
    st.builds(Text, st.sampled_from(["SENT", "x", ""])), st.just({"a": "b"}), st.just(["SENT"]),
)


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=lambda c: c.__name__)
@MANY
@given(data=st.data())
def test_odd_values_encode_or_fail_as_fastavro(cls: type, data: st.DataObject) -> None:
    record, value = data.draw(objects(cls)), data.draw(ODD)
    old = lambda r: codec.encode(cls.__name__, records.to_avro(r))  # noqa: E731
    for field in dataclasses.fields(cls):  # the value in every field in turn
        odd = dataclasses.replace(record, **{field.name: value})
        assert _outcome(compiled_codec.encoder(cls), odd) == _outcome(old, odd), field.name


@pytest.mark.parametrize("name", codec.RECORD_NAMES)
@SETTINGS
@given(data=st.data())
def test_odd_dicts_encode_or_fail_as_fastavro(name: str, data: st.DataObject) -> None:
    record = data.draw(dicts(name))
    value = data.draw(st.one_of(ODD, st.dictionaries(st.one_of(st.text(), st.integers()), ODD, max_size=2)))
    for key in record:
        odd = {**record, key: value}
        assert _outcome(compiled_codec.dict_encoder(name), odd) == _outcome(partial(codec.encode, name), odd), key
        del odd[key]  # fastavro writes the default, or refuses
        assert _outcome(compiled_codec.dict_encoder(name), odd) == _outcome(partial(codec.encode, name), odd), key


def test_the_object_encoder_takes_only_its_class() -> None:
    # Another class (a dict, a look-alike) is the fallback's: to_avro decides.
    record = Receipt("p", "m", Status.SENT, False, "S", 1)
    assert compiled_codec.encoder(Receipt)(record) == codec.encode("Receipt", records.to_avro(record))
    state = MessageState("p:m", "p", "m", Status.SENT, False, "S", 1)
    assert _outcome(compiled_codec.encoder(Receipt), state) == _outcome(
        lambda r: codec.encode("Receipt", records.to_avro(r)), state)
    assert _outcome(compiled_codec.encoder(Receipt), records.to_avro(record)) == _outcome(
        lambda r: codec.encode("Receipt", records.to_avro(r)), records.to_avro(record))
