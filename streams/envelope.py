"""The raw receipt envelope on dlr.raw.<provider>: what arrived, untouched,
with how and when it arrived."""

from __future__ import annotations

import time
from typing import Any

from streams import codec
from streams.model import ReceiptError


def make(provider: str, payload: bytes, transport: str, *, received_at: int | None = None,
         content_type: str | None = None, method: str | None = None, path: str | None = None,
         query: str | None = None, headers: dict[str, str] | None = None,
         remote_addr: str | None = None) -> bytes:
    return codec.encode("RawReceipt", {
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
        _, record = codec.decode(value, expect="RawReceipt")
        return record
    return {"provider": None, "received_at": record_time_us, "transport": "kafka", "payload": value}
