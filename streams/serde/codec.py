"""Avro encoding of every record, with the schemas in schemas/.

Without a schema registry every value is Avro single-object encoded (the Avro
spec's framing: C3 01, the schema's 8-byte CRC-64-AVRO fingerprint, the body),
so a consumer decodes with schemas/ alone. fastavro does the work here; the
worker's hot path uses the functions streams.serde.compiled_codec generates from the
same schemas, which fall back to these for anything they do not take. The
`avro` package is only for compatibility checks, never on the hot path.

Times are `timestamp-micros` in the schemas for consumers; we decode with
logical types stripped so they stay plain ints here (same bytes either way).
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
import fastavro.schema

from streams.core.model import ReceiptError

MAGIC = b"\xc3\x01"
RECORD_NAMES = ("RawReceipt", "Receipt", "MessageState", "StatusChange", "ChargeChange", "DeadLetter")
NAMESPACE = "dlr.streams"


def schema_dir() -> Path:
    package = Path(__file__).resolve().parent.parent  # streams/
    for candidate in (package / "schemas", package.parent / "schemas"):  # installed, or checkout
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("schemas/ not found beside the streams package")


def schema_path(name: str) -> Path:
    return schema_dir() / f"{NAMESPACE}.{name}.avsc"


def _strip_logical(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node


@cache
def public_schema(name: str) -> dict[str, Any]:
    """The schema as consumers see it: each named type defined inline at its
    first use, referenced by name after that."""
    loaded = fastavro.schema.load_schema(str(schema_path(name)), _write_hint=False)
    return json.loads(json.dumps(loaded))  # type: ignore[no-any-return]


@cache
def _parsed(name: str) -> Any:
    return fastavro.parse_schema(_strip_logical(public_schema(name)))


@cache
def fingerprint(name: str) -> bytes:
    canonical = fastavro.schema.to_parsing_canonical_form(public_schema(name))
    return bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))


@cache
def _by_fingerprint() -> dict[bytes, str]:
    return {fingerprint(n): n for n in RECORD_NAMES}


def encode(name: str, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(fingerprint(name))
    fastavro.schemaless_writer(out, _parsed(name), record)
    return out.getvalue()


def released_dir() -> Path:
    return schema_dir() / "released"


@cache
def released_writers(root: Path | None = None) -> dict[bytes, tuple[str, Any]]:
    """Fingerprint -> (record name, parsed schema) of every released schema
    (schemas/released/<version>/) that differs from the current one, so that
    records an older release wrote (raw topics keep 90 days) still decode,
    resolved into the current schema, after a schema upgrade."""
    root = root or released_dir()
    found: dict[bytes, tuple[str, Any]] = {}
    if not root.is_dir():
        return found
    for version in sorted(p for p in root.iterdir() if p.is_dir()):
        for name in RECORD_NAMES:
            path = version / f"{NAMESPACE}.{name}.avsc"
            if not path.is_file():
                continue
            schema = json.loads(json.dumps(fastavro.schema.load_schema(str(path), _write_hint=False)))
            canonical = fastavro.schema.to_parsing_canonical_form(schema)
            print_ = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
            if print_ != fingerprint(name):
                found[print_] = (name, fastavro.parse_schema(_strip_logical(schema)))
    return found


def decode(data: bytes, expect: str | None = None, released: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(record name, record) of single-object encoded bytes, written with the
    current schema or a released one; anything else is a ReceiptError with the
    reason."""
    if len(data) < 10 or data[:2] != MAGIC:
        raise ReceiptError("not Avro single-object encoded")
    writer = reader = None
    name = _by_fingerprint().get(bytes(data[2:10]))
    if name is None:
        old = released_writers(released).get(bytes(data[2:10]))
        if old is None:
            raise ReceiptError(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
        name, writer = old
        reader = _parsed(name)
    if expect is not None and name != expect:
        raise ReceiptError(f"expected a {expect}, got a {name}")
    try:
        record = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer or _parsed(name), reader)
    except Exception as exc:  # fastavro raises many types on truncated input
        raise ReceiptError(f"undecodable {name}: {type(exc).__name__}: {exc}") from None
    assert isinstance(record, dict)
    return name, record


def schema_json(name: str) -> str:
    return json.dumps(public_schema(name))
