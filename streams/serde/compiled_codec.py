"""Avro encoders and decoders compiled from schemas/, for the hot path.

fastavro interprets a schema on every call: per-call set-up, a dispatch on the
type name per field, a validation pass per union branch. That was over a third
of the worker's time. Here each record's schema (the one streams.serde.codec writes
and reads with) is turned once, at first use, into the Python source of one
encode and one decode function with every field unrolled, and exec'd. Nothing
is written per record by hand, so a schema change cannot leave them behind;
a schema construct the generator does not know leaves its record on fastavro.

They are exact, not approximate, because each is a fast path in front of the
old one (the fallback):
- an encoder takes what the old path took (the record object, or the dict for
  records without a class) and returns the bytes of
  `codec.encode(name, records.to_avro(obj))`. A value it does not take as is
  (another type, an int beyond the long range, a str subclass) goes to the
  fallback, which writes the same bytes or raises what it always raised.
- a decoder takes bytes single-object framed with the current schema and
  returns what `records.from_avro(cls, codec.decode(data, name)[1])` returns.
  Anything else goes to the fallback, so results and errors stay its own:
  another fingerprint or framing, a body that is truncated, malformed or
  followed by more bytes (fastavro ignores them; we let it), a varint or
  union/enum index fastavro would read in its own way (negative, wrapped).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache, partial
from typing import Any, TypeVar, cast

from streams.core import records
from streams.core.model import ChargeChange, MessageState, Receipt, StatusChange
from streams.serde import codec

T = TypeVar("T")

# The records that have a class (RawReceipt and DeadLetter are dicts only).
CLASSES: dict[str, type] = {c.__name__: c for c in (Receipt, MessageState, StatusChange, ChargeChange)}


class Unsupported(Exception):
    """A schema construct the generator does not compile (the record stays on fastavro)."""


class _Miss(Exception):
    """Raised inside a compiled function: this value or these bytes are for the fallback."""


# --- the schema, resolved into what the generator knows --------------------------

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "string", "bytes"})


@dataclass(frozen=True)
class EnumType:
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class MapType:
    values: Node


@dataclass(frozen=True)
class ArrayType:
    items: Node


@dataclass(frozen=True)
class Nullable:
    """A two-branch union with null (either order)."""

    null_index: int
    value: Node


Node = str | EnumType | MapType | ArrayType | Nullable


def record_fields(name: str) -> list[tuple[str, Node]]:
    """(field name, type) of a record, from the schema codec.encode writes with
    (logical types stripped: times are plain longs)."""
    schema = codec._strip_logical(codec.public_schema(name))
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise Unsupported(f"{name} is not a record")
    named: dict[str, Node] = {}
    return [(f["name"], _resolve(f["type"], named)) for f in schema["fields"]]


def _resolve(node: Any, named: dict[str, Node]) -> Node:
    if isinstance(node, str):
        if node in PRIMITIVES:
            return node
        if node in named:
            return named[node]
        raise Unsupported(f"unknown type name {node!r}")
    if isinstance(node, list):
        if len(node) == 2 and node.count("null") == 1:
            index = node.index("null")
            value = _resolve(node[1 - index], named)
            if value != "null":
                return Nullable(index, value)
        raise Unsupported(f"union {node!r}")
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "enum":
            found = named[node["name"]] = EnumType(tuple(node["symbols"]))
            return found
        if kind == "map":
            return MapType(_resolve(node["values"], named))
        if kind == "array":
            return ArrayType(_resolve(node["items"], named))
        if isinstance(kind, str) and kind in PRIMITIVES:
            return kind
    raise Unsupported(f"type {node!r}")


# --- varints, as fastavro writes and reads them ------------------------------------

# A varint of up to 8 bytes is made and read with a few whole-int operations,
# not a loop per byte: its 56 value bits are spread to 7 bits a byte (or
# gathered back) by halves, 28, 14 and 7 bits at a time.
_HIGH_BITS = 0x8080808080808080
_EIGHT_BYTES = 0x0080808080808080  # the continuation bits of an 8-byte varint
_LOW = tuple((1 << 8 * n) - 1 for n in range(9))  # the low n bytes
_CONTINUED = tuple(int.from_bytes(b"\x80" * (n - 1), "little") for n in range(1, 9))
_VARINT_LEN = tuple(max(1, -(-bits // 7)) for bits in range(65))
_BYTE = tuple(bytes((n,)) for n in range(128))
_U64 = struct.Struct("<Q").unpack_from


def zigzag(v: int) -> bytes:
    """An Avro int or long (-2**63 <= v < 2**63): zigzag-mapped to 0 <= n <
    2**64, then a varint, 7 bits a byte, low first, the high bit set on every
    byte but the last."""
    n = (v << 1) ^ (v >> 63)
    if n < 0x80:
        return _BYTE[n]
    length = _VARINT_LEN[n.bit_length()]
    if length > 8:
        out = bytearray()
        while n > 0x7F:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out)
    x = (n & 0x0FFFFFFF) | ((n & 0xFFFFFFF0000000) << 4)
    x = (x & 0x00003FFF00003FFF) | ((x & 0x0FFFC0000FFFC000) << 2)
    x = (x & 0x007F007F007F007F) | ((x & 0x3F803F803F803F80) << 1)
    return (x | _CONTINUED[length - 1]).to_bytes(length, "little")


def long_at(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the Avro long at pos. fastavro sums the
    bytes into 64 bits and so wraps a varint over 10 bytes or with a 10th byte
    above 1: those are left to it (_Miss)."""
    if pos + 8 <= len(data):
        (x,) = _U64(data, pos)
        length = 8 if x & _HIGH_BITS == _EIGHT_BYTES else _varint_length(x)  # 8: every time in micros
    else:  # near the end: bytes that are missing read as 0, so pos may end up past the end (_decode_value)
        x = int.from_bytes(data[pos:], "little")
        length = _varint_length(x)
    if length > 8:
        return _long_past_8(data, pos)
    x &= _LOW[length]
    x = (x & 0x007F007F007F007F) | ((x & 0x7F007F007F007F00) >> 1)
    x = (x & 0x00003FFF00003FFF) | ((x & 0x3FFF00003FFF0000) >> 2)
    x = (x & 0x000000000FFFFFFF) | ((x & 0x0FFFFFFF00000000) >> 4)
    return (x >> 1) ^ -(x & 1), pos + length


def _varint_length(x: int) -> int:
    """The length of the varint in the low 8 bytes of x (9: longer)."""
    ends = ~x & _HIGH_BITS  # the bytes without the continuation bit
    return (ends & -ends).bit_length() >> 3 if ends else 9


def _long_past_8(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    for i in range(10):
        b = data[pos + i]
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if i == 9 and b > 1:
                break
            return (n >> 1) ^ -(n & 1), pos + i + 1
    raise _Miss


def size_at(data: bytes, pos: int) -> tuple[int, int]:
    """A string's or bytes' length past 63 (two bytes up to 8191); a negative
    one is left to fastavro."""
    second = data[pos + 1]
    if second < 0x80:
        n = data[pos] & 0x7F | second << 7
        if n & 1:
            raise _Miss
        return n >> 1, pos + 2
    n, pos = long_at(data, pos)
    if n < 0:
        raise _Miss
    return n, pos


# --- code generation ------------------------------------------------------------

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1  # beyond it fastavro decides (it differs in and out of unions)
_SIZES = 1024  # string lengths with a precomputed prefix


@cache
def _size_table(branch: bytes) -> tuple[bytes, ...]:
    """The union index (if any) and length of each short string."""
    return tuple(branch + zigzag(n) for n in range(_SIZES))


class _Source:
    """Lines of Python source and the constants they name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, object] = {}
        self._n = 0

    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def const(self, stem: str, value: object) -> str:
        name = self.fresh(f"_{stem}")
        self.consts[name] = value
        return name

    def add(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)


def _enum_hint(cls: type | None, field: str) -> type[Enum] | None:
    return records._enum_fields(cls).get(field) if cls is not None else None


def _encode_value(src: _Source, node: Node, var: str, indent: int, branch: bytes) -> list[str]:
    """Lines that check `var` and encode it, `branch` (a union index) first;
    the names of the bytes pieces they leave."""
    if node in ("string", "bytes"):
        data, n, s = src.fresh("d"), src.fresh("n"), src.fresh("s")
        sizes = src.const("sizes", _size_table(branch))
        src.add(indent, f"if type({var}) is not {'str' if node == 'string' else 'bytes'}:", "    raise _Miss",
                f"{data} = {var}.encode()" if node == "string" else f"{data} = {var}",
                f"{n} = len({data})",
                f"{s} = {sizes}[{n}] if {n} < {_SIZES} else {f'{branch!r} + ' if branch else ''}_zigzag({n})")
        return [s, data]
    s = src.fresh("s")
    if node in ("int", "long"):
        low, high = (LONG_MIN, LONG_MAX) if node == "long" else (INT_MIN, INT_MAX)
        src.add(indent, f"if type({var}) is not int or not {low} <= {var} <= {high}:", "    raise _Miss",
                f"{s} = {branch!r} + _zigzag({var})" if branch else f"{s} = _zigzag({var})")
    elif node == "boolean":
        true, false = branch + b"\x01", branch + b"\x00"
        src.add(indent, f"if {var} is True:", f"    {s} = {true!r}", f"elif {var} is False:", f"    {s} = {false!r}",
                "else:", "    raise _Miss")
    elif isinstance(node, EnumType):
        # Keyed by symbol: a StrEnum member hashes and compares as its value,
        # the very value to_avro hands fastavro. A miss raises KeyError.
        table = src.const("enum", {sym: branch + zigzag(i) for i, sym in enumerate(node.symbols)})
        src.add(indent, f"{s} = {table}[{var}]")
    elif isinstance(node, MapType):
        key, value, parts = src.fresh("k"), src.fresh("v"), src.fresh("m")
        empty = branch + b"\x00"
        src.add(indent, f"if type({var}) is not dict:", "    raise _Miss", f"if {var}:",
                f"    {parts} = [{f'{branch!r} + ' if branch else ''}_zigzag(len({var}))]",
                f"    for {key}, {value} in {var}.items():")
        pieces = _encode_value(src, "string", key, indent + 2, b"")
        pieces += _encode_value(src, node.values, value, indent + 2, b"")
        src.add(indent, f"        {parts} += ({', '.join(pieces)},)", f"    {parts}.append(b'\\x00')",
                f"    {s} = b''.join({parts})", "else:", f"    {s} = {empty!r}")
    elif isinstance(node, ArrayType):  # a tuple in a record class, a list in a dict
        item, parts = src.fresh("i"), src.fresh("a")
        empty = branch + b"\x00"
        src.add(indent, f"if type({var}) is not tuple and type({var}) is not list:", "    raise _Miss", f"if {var}:",
                f"    {parts} = [{f'{branch!r} + ' if branch else ''}_zigzag(len({var}))]",
                f"    for {item} in {var}:")
        pieces = _encode_value(src, node.items, item, indent + 2, b"")
        src.add(indent, f"        {parts} += ({', '.join(pieces)},)", f"    {parts}.append(b'\\x00')",
                f"    {s} = b''.join({parts})", "else:", f"    {s} = {empty!r}")
    else:
        raise Unsupported(f"cannot encode {node!r}")
    return [s]


def _encode_field(src: _Source, node: Node, var: str, indent: int) -> list[str]:
    if not isinstance(node, Nullable):
        return _encode_value(src, node, var, indent, b"")
    null, value = zigzag(node.null_index), zigzag(1 - node.null_index)
    if isinstance(node.value, EnumType):  # one lookup, None included
        s = src.fresh("s")
        table: dict[str | None, bytes] = {sym: value + zigzag(i) for i, sym in enumerate(node.value.symbols)}
        table[None] = null
        src.add(indent, f"{s} = {src.const('enum', table)}[{var}]")
        return [s]
    src.add(indent, f"if {var} is not None:")
    pieces = _encode_value(src, node.value, var, indent + 1, value)
    src.add(indent, "else:", f"    {pieces[0]} = {null!r}", *(f"    {p} = b''" for p in pieces[1:]))
    return pieces


def _encoder_source(name: str, cls: type | None) -> _Source:
    fields = record_fields(name)
    if cls is not None:
        slots = {f.name for f in dataclasses.fields(cls)}
        missing = [f for f, _ in fields if f not in slots]
        if missing:  # to_avro would leave them out, and fastavro write their defaults
            raise Unsupported(f"{cls.__name__} has no field {', '.join(missing)}")
    src = _Source()
    src.add(0, "def encode(record):", f"    if type(record) is {src.const('cls', cls or dict)}:", "        try:")
    pieces: list[str] = []
    for field, node in fields:
        var = src.fresh("f")
        src.add(3, f"{var} = record.{field}" if cls is not None else f"{var} = record[{field!r}]")
        pieces += _encode_field(src, node, var, 3)
    src.add(3, f"return b''.join((_HEAD, {', '.join(pieces)}))")
    src.add(2, "except (_Miss, KeyError, TypeError, UnicodeError):",
            "    pass  # for fastavro: it writes the same bytes or raises its own error")
    src.add(1, "return _fallback(record)")
    return src


def _decode_value(src: _Source, node: Node, var: str, indent: int, hint: type[Enum] | None,
                  as_tuple: bool = False) -> None:
    """Lines that read `var` at `pos` in `data` and move `pos` past it.

    Nothing is bounds-checked field by field: a slice past the end is only
    short, and `pos` then lies past the end for good, so the next read raises
    IndexError or the closing `pos == size` fails; either way the fallback
    reads the bytes."""
    if node in ("string", "bytes"):
        src.add(indent, "b = data[pos]", "if b & 0x81:  # a length over 63, or negative",
                "    n, pos = _size_at(data, pos)", "    end = pos + n", "else:", "    pos += 1",
                "    end = pos + (b >> 1)", f"{var} = data[pos:end]{'.decode()' if node == 'string' else ''}",
                "pos = end")
        if hint is not None and node == "string":  # from_avro makes it a member; a miss raises KeyError
            src.add(indent, f"{var} = {src.const('members', {m.value: m for m in hint})}[{var}]")
    elif node in ("int", "long"):
        src.add(indent, "b = data[pos]", "if b < 0x80:", f"    {var} = (b >> 1) ^ -(b & 1)", "    pos += 1",
                "else:", f"    {var}, pos = _long_at(data, pos)")
    elif node == "boolean":
        src.add(indent, f"{var} = data[pos] != 0  # as fastavro reads it", "pos += 1")
    elif isinstance(node, EnumType):
        # One-byte indexes (0..63) only: a negative one (fastavro reads it
        # from the end) or a longer one is a KeyError, for the fallback. A
        # symbol from_avro cannot make a member of is left out the same way.
        values: dict[int, object] = {}
        for i, sym in enumerate(node.symbols[:64]):
            if hint is None:
                values[i << 1] = sym
            elif sym in hint._value2member_map_:
                values[i << 1] = hint(sym)
        src.add(indent, f"{var} = {src.const('enum', values)}[data[pos]]", "pos += 1")
    elif isinstance(node, MapType):
        count, key, value = src.fresh("c"), src.fresh("k"), src.fresh("v")
        src.add(indent, f"{var} = {{}}")
        _decode_value(src, "long", count, indent, None)
        src.add(indent, f"while {count}:", f"    if {count} < 0:  # a block with its size", "        raise _Miss",
                f"    for _ in range({count}):")
        _decode_value(src, "string", key, indent + 2, None)
        _decode_value(src, node.values, value, indent + 2, None)
        src.add(indent + 2, f"{var}[{key}] = {value}")
        _decode_value(src, "long", count, indent + 1, None)
    elif isinstance(node, ArrayType):
        count, item = src.fresh("c"), src.fresh("i")
        src.add(indent, f"{var} = []")
        _decode_value(src, "long", count, indent, None)
        src.add(indent, f"while {count}:", f"    if {count} < 0:  # a block with its size", "        raise _Miss",
                f"    for _ in range({count}):")
        _decode_value(src, node.items, item, indent + 2, None)
        src.add(indent + 2, f"{var}.append({item})")
        _decode_value(src, "long", count, indent + 1, None)
        if as_tuple:  # a record class holds a tuple (records.from_avro makes the same)
            src.add(indent, f"{var} = tuple({var})")
    elif isinstance(node, Nullable):
        null_byte, value_byte = node.null_index << 1, (1 - node.null_index) << 1
        src.add(indent, "b = data[pos]", "pos += 1", f"if b == {null_byte}:", f"    {var} = None",
                f"elif b == {value_byte}:")
        _decode_value(src, node.value, var, indent + 1, hint, as_tuple)
        src.add(indent, "else:", "    raise _Miss")
    else:
        raise Unsupported(f"cannot decode {node!r}")


def _unfrozen_twin(cls: type) -> type | None:
    """A plain class with the same slots as the frozen dataclass `cls`.

    A decoded record is built as a twin, its fields set by plain attribute
    stores (the interpreter's fastest: a third of the time of calling each
    slot's __set__, as the fold does, and a fifth of the frozen __init__'s),
    and then made a `cls` by assigning __class__, which CPython allows between
    classes of the same layout. The result is a `cls` like any other: same
    class, slots and values, so equal, hashed and frozen alike (tests hold it
    to __init__). None if this Python refuses the swap."""
    if cls.__bases__ != (object,) or not hasattr(cls, "__slots__"):
        return None
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": cls.__slots__})
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin


def _decoder_source(name: str, cls: type | None) -> _Source:
    fields = record_fields(name)
    src = _Source()
    src.add(0, "def decode(data):", "    if type(data) is bytes and data[:10] == _HEAD:", "        try:",
            "            size = len(data)", "            pos = 10")
    names = {}
    for field, node in fields:
        names[field] = var = src.fresh("f")
        _decode_value(src, node, var, 3, _enum_hint(cls, field), as_tuple=cls is not None)
    src.add(3, "if pos == size:")
    if cls is None:
        src.add(4, "return {" + ", ".join(f"{f!r}: {v}" for f, v in names.items()) + "}")
    else:
        if hasattr(cls, "__post_init__"):  # the slots are set directly, not through __init__
            raise Unsupported(f"{cls.__name__} has a __post_init__")
        values = [(f.name, names.get(f.name, "None")) for f in dataclasses.fields(cls)]  # None: as from_avro
        twin = _unfrozen_twin(cls)
        if twin is not None:
            src.add(4, f"record = _new({src.const('twin', twin)})", *(f"record.{f} = {v}" for f, v in values),
                    f"record.__class__ = {src.const('cls', cls)}")
        else:
            src.add(4, f"record = _new({src.const('cls', cls)})")
            for field, value in values:
                src.add(4, f"{src.const('set', cast(Any, getattr(cls, field)).__set__)}(record, {value})")
        src.add(4, "return record")
    src.add(2, "except (_Miss, IndexError, KeyError, UnicodeDecodeError):",
            "    pass  # fastavro reads it or raises its own error")
    src.add(1, "return _fallback(data)")
    return src


_HELPERS = {"_Miss": _Miss, "_zigzag": zigzag, "_long_at": long_at, "_size_at": size_at, "_new": object.__new__}


@cache
def _factory(kind: str, name: str, cls: type | None) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """A function of the fallback that makes the compiled encoder or decoder
    ("encode" or "decode") of a record, from and to its class (or a dict when
    cls is None); generated once per record, kind and class."""
    src = _encoder_source(name, cls) if kind == "encode" else _decoder_source(name, cls)
    text = "\n".join(src.lines) + "\n"
    code = compile(text, f"<compiled {kind}r of {name}>", "exec")
    namespace: dict[str, Any] = {**_HELPERS, **src.consts, "_HEAD": codec.MAGIC + codec.fingerprint(name)}

    def make(fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        scope = {**namespace, "_fallback": fallback}
        exec(code, scope)
        return cast(Callable[[Any], Any], scope[kind])

    make.source = text  # type: ignore[attr-defined]  # for reading, and for tests
    return make


# --- the API ------------------------------------------------------------------


def _compiled(kind: str, name: str, cls: type | None, fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    try:
        make = _factory(kind, name, cls)
    except Unsupported:
        return fallback  # fastavro alone, as before
    return make(fallback)


def is_compiled(name: str) -> bool:
    """Whether the record's schema compiles (else its codec is fastavro's)."""
    try:
        for kind in ("encode", "decode"):
            _factory(kind, name, CLASSES.get(name))
            _factory(kind, name, None)
    except Unsupported:
        return False
    return True


def source(kind: str, name: str, cls: type | None = None) -> str:
    """The generated source of a record's encoder or decoder ("encode" or "decode")."""
    return cast(str, _factory(kind, name, cls).source)  # type: ignore[attr-defined]


def encoder(cls: type[T]) -> Callable[[T], bytes]:
    """Record object (Receipt, MessageState, StatusChange, ChargeChange) ->
    single-object encoded bytes, as codec.encode(name, records.to_avro(record))
    gives them."""
    return _object_encoder(cast(type, cls))  # mypy does not take type[T] as Hashable


@cache
def _object_encoder(cls: type) -> Callable[[Any], bytes]:
    name = cls.__name__
    return _compiled("encode", name, cls, lambda record: codec.encode(name, records.to_avro(record)))


@cache
def dict_encoder(name: str) -> Callable[[dict[str, Any]], bytes]:
    """Record dict (as to_avro makes it, or a RawReceipt or DeadLetter) ->
    single-object encoded bytes, as codec.encode(name, record) gives them."""
    return _compiled("encode", name, None, partial(codec.encode, name))


def decoder(cls: type[T], fallback: Callable[[bytes], T] | None = None) -> Callable[[bytes], T]:
    """Bytes -> record object: compiled for the current schema's single-object
    encoding, `fallback` for everything else (by default
    records.from_avro(cls, codec.decode(data, name)[1]), its errors and all)."""
    name = cls.__name__
    if fallback is None:
        fallback = lambda data: records.from_avro(cls, codec.decode(data, name)[1])  # noqa: E731
    return _compiled("decode", name, cls, fallback)


def dict_decoder(name: str, fallback: Callable[[bytes], dict[str, Any]] | None = None
                 ) -> Callable[[bytes], dict[str, Any]]:
    """Bytes -> record dict, as codec.decode(data, name)[1] gives it; `fallback`
    (by default that) for anything but the current schema's single-object
    encoding."""
    if fallback is None:
        fallback = lambda data: codec.decode(data, name)[1]  # noqa: E731
    return _compiled("decode", name, None, fallback)
