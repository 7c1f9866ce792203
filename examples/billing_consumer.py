"""Billing: read dlr.charge-changes and print each billable event once.

Values are Avro single-object encoded (C3 01, the schema's CRC-64-AVRO
fingerprint, the body), so schemas/ is all a consumer needs; with a schema
registry (--registry, or DLR_SCHEMA_REGISTRY_URL as the workers have it) they
are in the Confluent wire format and each writer schema is fetched by its id.
Change ids are deterministic: a replay or a worker restart re-emits the same id, and the
consumer drops it. The dedupe store here is in memory and bounded; a real
billing system keeps the ids where it books the charge (a unique key), so
the check survives its own restarts too.

    python examples/billing_consumer.py --broker localhost:9092 [--max-idle 10]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import fastavro
import fastavro.schema
from confluent_kafka import Consumer

TOPIC = "dlr.charge-changes"
RECORD = "ChargeChange"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
ACTIONS = {"CAPTURED": "charge", "REFUNDED": "refund"}  # what billing books; the rest is lifecycle


def decoders(schemas: Path, record: str) -> tuple[dict[bytes, object], object]:
    """Fingerprint -> writer schema for the current schema and every released
    one (schemas/released/<version>/), and the current schema to read into."""
    writers: dict[bytes, object] = {}
    reader = None
    for folder in [schemas, *sorted((schemas / "released").glob("*/"))]:
        path = folder / f"dlr.streams.{record}.avsc"
        if path.is_file():
            schema = json.loads(json.dumps(fastavro.schema.load_schema(str(path), _write_hint=False)))
            canonical = fastavro.schema.to_parsing_canonical_form(schema)
            parsed = fastavro.parse_schema(schema)
            reader = reader or parsed
            writers[bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))] = parsed
    return writers, reader


class Registry:
    """Writer schemas of the Confluent wire format by id, each fetched once
    from the schema registry (needs confluent-kafka's registry client:
    pip install "confluent-kafka[schemaregistry]")."""

    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.client, self.writers = SchemaRegistryClient({"url": url}), {}

    def writer(self, schema_id: int) -> object:
        if schema_id not in self.writers:
            self.writers[schema_id] = fastavro.parse_schema(json.loads(self.client.get_schema(schema_id).schema_str))
        return self.writers[schema_id]


def decode(value: bytes, writers: dict[bytes, object], reader: object, registry: Registry | None = None) -> dict:
    """A value in either framing the workers write: single-object encoding
    (C3 01, fingerprint) or, with a registry, the Confluent wire format (00,
    the 4-byte schema id); the body is read into the current schema."""
    if value[:1] == b"\x00" and len(value) > 5:
        if registry is None:
            raise ValueError("Confluent wire format (the workers use a schema registry): give --registry URL")
        writer = registry.writer(int.from_bytes(value[1:5], "big"))
        return fastavro.schemaless_reader(io.BytesIO(value[5:]), writer, reader)
    if value[:2] != b"\xc3\x01" or value[2:10] not in writers:
        raise ValueError("not a single-object encoded " + RECORD)
    writer = writers[value[2:10]]
    return fastavro.schemaless_reader(io.BytesIO(value[10:]), writer, None if writer is reader else reader)


class Seen:
    """The last `size` ids, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self.size, self.ids = size, OrderedDict()

    def add(self, key: str) -> bool:
        """True if new."""
        if key in self.ids:
            self.ids.move_to_end(key)
            return False
        self.ids[key] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", required=True, help="bootstrap servers HOST:PORT")
    parser.add_argument("--group", default="billing", help="consumer group (default: billing)")
    parser.add_argument("--schemas", type=Path, default=SCHEMAS, help="the schemas/ directory")
    parser.add_argument("--registry", metavar="URL", default=os.environ.get("DLR_SCHEMA_REGISTRY_URL") or None,
                        help="the schema registry, if the workers use one (default: $DLR_SCHEMA_REGISTRY_URL)")
    parser.add_argument("--dedupe-size", type=int, default=1_000_000, help="ids remembered")
    parser.add_argument("--max-idle", type=float, metavar="S",
                        help="exit after S seconds without a record (default: run until Ctrl-C)")
    parser.add_argument("-X", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="librdkafka setting, e.g. -X security.protocol=SASL_SSL")
    args = parser.parse_args()

    writers, reader = decoders(args.schemas, RECORD)
    registry = Registry(args.registry) if args.registry else None
    seen = Seen(args.dedupe_size)
    consumer = Consumer({"bootstrap.servers": args.broker, "group.id": args.group,
                         "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
                         **dict(item.split("=", 1) for item in args.extra)})
    consumer.subscribe([TOPIC])
    read = duplicates = billable = 0
    last = time.monotonic()
    try:
        while args.max_idle is None or time.monotonic() - last < args.max_idle:
            message = consumer.poll(0.5)
            if message is None:
                if not consumer.assignment():  # still joining the group: not idle yet
                    last = time.monotonic()
                continue
            if message.error():
                print(f"billing: {message.error()}", file=sys.stderr)
                continue
            last = time.monotonic()
            read += 1
            change = decode(message.value(), writers, reader, registry)
            if not seen.add(change["id"]):
                duplicates += 1
            elif change["charge_status"] in ACTIONS and not change["notification"]:
                billable += 1
                print(json.dumps({
                    "id": change["id"], "action": ACTIONS[change["charge_status"]],
                    "message_key": change["message_key"], "price": change["price"],
                    "reference": change["reference"], "at": change["event_time"].isoformat(),
                }), flush=True)
            consumer.store_offsets(message)  # committed only once handled
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    print(f"billing: {read} read, {duplicates} duplicates dropped, {billable} billable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
