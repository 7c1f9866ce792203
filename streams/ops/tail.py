"""`dlr tail`: the records of a dlr-streams topic as JSON lines."""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from streams.core import records
from streams.core.model import ChargeChange, MessageState, Receipt, ReceiptError, StatusChange, iso
from streams.kafka.admin import client_config
from streams.serde.registry import RegistryError, decode_any
from streams.topics import resolve

CLASSES: dict[str, type] = {
    "Receipt": Receipt, "StatusChange": StatusChange, "ChargeChange": ChargeChange, "MessageState": MessageState,
}


def to_json(value: bytes | None) -> dict[str, Any]:
    """A topic value as `dlr fold` prints it; dead letters with their bytes in
    base64. Either framing: single-object encoded, or the Confluent wire format
    read with the registry of DLR_SCHEMA_REGISTRY_URL."""
    if value is None:
        return {"type": "tombstone"}
    try:
        name, record = decode_any(value)
    except (ReceiptError, RegistryError) as exc:  # shown, bytes and all: tail reads, it never drops
        return {"type": "undecodable", "error": str(exc), "value_base64": base64.b64encode(value).decode()}
    if name in CLASSES:
        return records.to_json(records.from_avro(CLASSES[name], record))
    out: dict[str, Any] = {"type": "dead_letter" if name == "DeadLetter" else name}
    for key, field in record.items():
        if isinstance(field, bytes):
            out[key + "_base64"] = base64.b64encode(field).decode()
        elif key in records.TIME_FIELDS and field is not None:
            out[key] = iso(field)
        else:
            out[key] = field
    return out


def tail(bootstrap: str, topic: str, from_beginning: bool, idle_timeout: float | None,
         emit: Callable[[dict[str, Any]], None] | None = None) -> int:
    from confluent_kafka import Consumer

    name = resolve(topic)
    consumer = Consumer(client_config(bootstrap, {
        "group.id": f"dlr-tail-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
    }))
    consumer.subscribe([name])
    out = emit or (lambda obj: print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), flush=True))
    last = time.monotonic()
    try:
        while idle_timeout is None or time.monotonic() - last < idle_timeout:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                print(f"dlr tail: {message.error()}", file=sys.stderr)
                continue
            last = time.monotonic()
            out(to_json(message.value()))
    finally:
        consumer.close()
    return 0


def collect(bootstrap: str, topics: list[str], done: Callable[[dict[str, list[dict[str, Any]]]], bool],
            timeout: float, on_record: Callable[[str, dict[str, Any]], None] | None = None,
            ) -> dict[str, list[dict[str, Any]]]:
    """Read topics from the beginning until `done(seen)` or `timeout` seconds."""
    from confluent_kafka import Consumer

    names = [resolve(t) for t in topics]
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    consumer = Consumer(client_config(bootstrap, {
        "group.id": f"dlr-collect-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }))
    consumer.subscribe(names)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(seen):
            for message in consumer.consume(500, 0.2):
                if message.error():
                    continue
                topic = str(message.topic())
                record = to_json(message.value())
                seen[topic].append(record)
                if on_record:
                    on_record(topic, record)
    finally:
        consumer.close()
    return seen
