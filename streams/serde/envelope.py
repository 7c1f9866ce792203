"""The raw receipt envelope on dlr.raw.<provider>: what arrived, untouched,
with how and when it arrived."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from streams.core.model import ReceiptError
from streams.serde import codec, compiled_codec


def make(provider: str, payload: bytes, transport: str, *, received_at: int | None = None,
         content_type: str | None = None, method: str | None = None, path: str | None = None,
         query: str | None = None, headers: dict[str, str] | None = None,
         remote_addr: str | None = None) -> bytes:
    return compiled_codec.dict_encoder("RawReceipt")({
        "provider": provider,
        "received_at": time.time_ns() // 1000 if received_at is None else received_at,
        "transport": transport, "payload": payload, "content_type": content_type, "method": method,
        "path": path, "query": query, "headers": headers or {}, "remote_addr": remote_addr,
    })


def read(value: bytes | None, record_time_us: int) -> dict[str, Any]:
    """The envelope in a raw topic record. A record that is not an envelope is
    taken as a bare receipt written by an upstream gateway, received at the
    record's timestamp: gateways need not speak Avro to feed dlr-streams."""
    if value is None:
        raise ReceiptError("empty record (tombstone)")
    if value[:2] == codec.MAGIC:
        return (_decode or _decoder())(value)
    return {"provider": None, "received_at": record_time_us, "transport": "kafka", "payload": value}


# Compiled from the schema at first use; what it does not read (an older
# schema, a bad record) it hands to codec.decode(value, expect="RawReceipt"),
# whose errors are the reasons dead letters carry.
_decode: Callable[[bytes], dict[str, Any]] | None = None


def _decoder() -> Callable[[bytes], dict[str, Any]]:
    global _decode
    _decode = compiled_codec.dict_decoder("RawReceipt")
    return _decode
