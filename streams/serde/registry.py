"""Schema registry support: the Confluent wire format beside the Avro spec's
single-object encoding (streams.serde.codec).

With DLR_SCHEMA_REGISTRY_URL set, every value is written in the Confluent
wire format (a 0 byte, the 4-byte big-endian schema id, the Avro body) and
each record schema is registered under the subject `<topic>-value` (the
registry's TopicNameStrategy), so the registry enforces its compatibility
rules on every change. Without it, values stay single-object encoded and a
consumer decodes them with schemas/ alone.

`encoder_for(topic, record_name)` is what a producer calls once per topic (it
registers there, so an unreachable registry fails at start-up, not per
record), `record_encoder_for(topic, cls)` the same for a record object;
`decode_any(data)` reads either framing, so topics written before and after a
registry was configured stay readable.

The registry is reached through a two-method client (`RegistryClient`);
`ConfluentClient` adapts confluent_kafka.schema_registry to it. Registry
failures are `RegistryError` (a RuntimeError, never a ReceiptError): a record
must not be dead-lettered because the registry was down.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import fastavro
import fastavro.schema

from streams import settings
from streams.core import records
from streams.core.model import ReceiptError
from streams.serde import codec, compiled_codec

CONFLUENT_MAGIC = b"\x00"
HEADER = struct.Struct(">bI")  # magic byte, schema id

Encoder = Callable[[dict[str, Any]], bytes]
R = TypeVar("R")


class RegistryError(RuntimeError):
    """The schema registry could not be reached or refused a schema."""


class RegistryClient(Protocol):
    def register(self, subject: str, schema_str: str) -> int:
        """Register (or find) an Avro schema under a subject; its global id."""

    def lookup(self, schema_id: int) -> str:
        """The schema text of a global schema id; KeyError if the registry has none."""


class ConfluentClient:
    """RegistryClient over confluent_kafka.schema_registry.SchemaRegistryClient
    (needs the `registry` extra: pip install 'dlr-streams[registry]')."""

    def __init__(self, url: str, basic_auth: str = "", extra: dict[str, Any] | None = None) -> None:
        try:
            from confluent_kafka.schema_registry import SchemaRegistryClient
        except ImportError as exc:
            raise RegistryError(
                f"DLR_SCHEMA_REGISTRY_URL is set but the registry client cannot load ({exc});"
                " pip install 'dlr-streams[registry]'"
            ) from None
        conf: dict[str, Any] = {"url": url, **(extra or {})}
        if basic_auth:
            conf["basic.auth.user.info"] = basic_auth
        try:
            self._client = SchemaRegistryClient(conf)
        except ValueError as exc:  # "Invalid url ...", or a setting it does not take
            shown = settings.masked(settings.SETTINGS["schema_registry_url"], url)
            raise RegistryError(f"cannot use {shown!r} ({str(exc).replace(url, shown)})") from None

    def register(self, subject: str, schema_str: str) -> int:
        from confluent_kafka.schema_registry import Schema

        return int(self._client.register_schema(subject, Schema(schema_str, "AVRO")))

    def lookup(self, schema_id: int) -> str:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            return str(self._client.get_schema(schema_id).schema_str)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise KeyError(schema_id) from None
            raise


def subject(topic: str) -> str:
    return f"{topic}-value"


def _record_name(schema: Any) -> str | None:
    """Our short record name of a writer schema, or None if it is not one of ours."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    name = str(schema.get("name", ""))
    namespace, _, short = name.rpartition(".")
    namespace = namespace or str(schema.get("namespace", ""))
    if namespace != codec.NAMESPACE or short not in codec.RECORD_NAMES:
        return None
    return short


class Registry:
    """Confluent wire format over a RegistryClient, with every id cached:
    after the first record of a topic, encoding and decoding touch no network."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self._ids: dict[tuple[str, str], int] = {}
        self._writers: dict[int, tuple[str, Any, Any]] = {}  # id -> (name, writer, reader or None)

    def schema_id(self, topic: str, name: str) -> int:
        key = (topic, name)
        if key not in self._ids:
            try:
                schema_id = self.client.register(subject(topic), codec.schema_json(name))
            except Exception as exc:
                raise RegistryError(f"registering {name} under {subject(topic)}: {exc}") from exc
            self._ids[key] = schema_id
            self._writers.setdefault(schema_id, (name, codec._parsed(name), None))
        return self._ids[key]

    def header(self, topic: str, name: str) -> bytes:
        return HEADER.pack(0, self.schema_id(topic, name))

    def encode(self, topic: str, name: str, record: dict[str, Any]) -> bytes:
        return _framed(self.header(topic, name), name, record)

    def _writer(self, schema_id: int) -> tuple[str, Any, Any]:
        if schema_id not in self._writers:
            try:
                text = self.client.lookup(schema_id)
            except KeyError:  # the bytes name a schema that does not exist: a bad record, not an outage
                raise ReceiptError(f"unknown schema id {schema_id}") from None
            except Exception as exc:
                raise RegistryError(f"looking up schema id {schema_id}: {exc}") from exc
            try:
                schema = json.loads(text)
            except ValueError:
                raise ReceiptError(f"schema id {schema_id} is not an Avro schema") from None
            name = _record_name(schema)
            if name is None:
                raise ReceiptError(f"schema id {schema_id} is not a dlr-streams record: {text[:80]}")
            stripped = codec._strip_logical(schema)
            same = (fastavro.schema.to_parsing_canonical_form(stripped)
                    == fastavro.schema.to_parsing_canonical_form(codec._strip_logical(codec.public_schema(name))))
            writer = codec._parsed(name) if same else fastavro.parse_schema(stripped)
            self._writers[schema_id] = (name, writer, None if same else codec._parsed(name))
        return self._writers[schema_id]

    def decode(self, data: bytes, expect: str | None = None) -> tuple[str, dict[str, Any]]:
        """(record name, record) of Confluent-framed bytes, read with the
        writer's schema from the registry into the current one."""
        if len(data) < HEADER.size + 1 or data[:1] != CONFLUENT_MAGIC:
            raise ReceiptError("not in the Confluent wire format")
        _, schema_id = HEADER.unpack_from(data)
        name, writer, reader = self._writer(schema_id)
        if expect is not None and name != expect:
            raise ReceiptError(f"expected a {expect}, got a {name}")
        try:
            record = fastavro.schemaless_reader(io.BytesIO(data[HEADER.size:]), writer, reader)
        except Exception as exc:  # fastavro raises many types on truncated input
            raise ReceiptError(f"undecodable {name}: {type(exc).__name__}: {exc}") from None
        assert isinstance(record, dict)
        return name, record


def _framed(header: bytes, name: str, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(header)
    fastavro.schemaless_writer(out, codec._parsed(name), record)
    return out.getvalue()


@cache
def default_registry() -> Registry | None:
    """The registry of DLR_SCHEMA_REGISTRY_URL, or None when it is empty."""
    url = settings.get("schema_registry_url")
    if not url:
        return None
    return Registry(ConfluentClient(url, settings.get("schema_registry_auth")))


def _check(topic: str, name: str) -> None:
    from streams.topics import specs

    if name not in codec.RECORD_NAMES:
        raise ValueError(f"unknown record {name!r} (one of {', '.join(codec.RECORD_NAMES)})")
    for spec in specs():
        if spec.name == topic and spec.record != name:
            raise ValueError(f"topic {topic} carries {spec.record} records, not {name}")


def encoder_for(topic: str, record_name: str, registry: Registry | None = None) -> Encoder:
    """The encoder of `record_name` values (as dicts) on `topic`: Confluent
    wire format when a registry is given or configured (registering now),
    else Avro single-object encoding (compiled from the schema: the bytes of
    codec.encode)."""
    _check(topic, record_name)
    registry = registry or default_registry()
    if registry is None:
        return compiled_codec.dict_encoder(record_name)
    return partial(_framed, registry.header(topic, record_name), record_name)


def record_encoder_for(topic: str, cls: type[R], registry: Registry | None = None) -> Callable[[R], bytes]:
    """encoder_for() of a record class (Receipt, MessageState, StatusChange,
    ChargeChange), taking the record itself: without a registry it is encoded
    straight from its fields, with no dict in between; the Confluent wire
    format still goes through records.to_avro."""
    name = cls.__name__
    _check(topic, name)
    registry = registry or default_registry()
    if registry is None:
        return compiled_codec.encoder(cls)
    encode = partial(_framed, registry.header(topic, name), name)
    return lambda record: encode(records.to_avro(record))


@cache
def encoder(topic: str, record_name: str) -> Encoder:
    """encoder_for() with the configured registry, made once per (topic,
    record): for the hot path. Clear with `encoder.cache_clear()` (and
    `default_registry.cache_clear()`) after changing the settings."""
    return encoder_for(topic, record_name)


def is_framed(data: bytes | None) -> bool:
    """Whether bytes carry either framing (as opposed to a bare payload)."""
    return data is not None and (data[:2] == codec.MAGIC or (len(data) > HEADER.size and data[:1] == CONFLUENT_MAGIC))


def decode_any(data: bytes, expect: str | None = None, registry: Registry | None = None,
               released: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(record name, record) of single-object (current or released schema) or
    Confluent-framed bytes."""
    if data[:2] == codec.MAGIC:
        return codec.decode(data, expect, released)
    if data[:1] == CONFLUENT_MAGIC and len(data) > HEADER.size:
        registry = registry or default_registry()
        if registry is None:
            raise ReceiptError(f"Confluent wire format (schema id {HEADER.unpack_from(data)[1]})"
                               " but no schema registry configured (DLR_SCHEMA_REGISTRY_URL)")
        return registry.decode(data, expect)
    raise ReceiptError("neither Avro single-object encoded nor in the Confluent wire format")
