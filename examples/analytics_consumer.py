"""Analytics: read dlr.status-changes and count final statuses per provider.

Values are Avro single-object encoded (C3 01, the schema's CRC-64-AVRO
fingerprint, the body), so schemas/ is all a consumer needs; with a schema
registry (--registry, or DLR_SCHEMA_REGISTRY_URL as the workers have it) they
are in the Confluent wire format and each writer schema is fetched by its id.
Change ids are deterministic, so a repeated id (a replay, a worker restart)
is dropped. A message counts once, under its latest final status: a late
DELIVERED after an EXPIRED moves it from one to the other.

    python examples/analytics_consumer.py --broker localhost:9092 [--max-idle 10]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter, OrderedDict, defaultdict
from pathlib import Path

import fastavro
import fastavro.schema
from confluent_kafka import Consumer

TOPIC = "dlr.status-changes"
RECORD = "StatusChange"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


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


class Bounded(OrderedDict):
    """A dict that forgets its oldest entries past `size`."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: object, value: object) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", required=True, help="bootstrap servers HOST:PORT")
    parser.add_argument("--group", default="analytics", help="consumer group (default: analytics)")
    parser.add_argument("--schemas", type=Path, default=SCHEMAS, help="the schemas/ directory")
    parser.add_argument("--registry", metavar="URL", default=os.environ.get("DLR_SCHEMA_REGISTRY_URL") or None,
                        help="the schema registry, if the workers use one (default: $DLR_SCHEMA_REGISTRY_URL)")
    parser.add_argument("--dedupe-size", type=int, default=1_000_000, help="ids (and messages) remembered")
    parser.add_argument("--max-idle", type=float, metavar="S",
                        help="exit after S seconds without a record (default: run until Ctrl-C)")
    parser.add_argument("-X", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="librdkafka setting, e.g. -X security.protocol=SASL_SSL")
    args = parser.parse_args()

    writers, reader = decoders(args.schemas, RECORD)
    registry = Registry(args.registry) if args.registry else None
    seen = Bounded(args.dedupe_size)  # change id -> None
    final = Bounded(args.dedupe_size)  # message key -> the final status it is counted under
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    consumer = Consumer({"bootstrap.servers": args.broker, "group.id": args.group,
                         "auto.offset.reset": "earliest", **dict(item.split("=", 1) for item in args.extra)})
    consumer.subscribe([TOPIC])
    read = duplicates = 0
    last = time.monotonic()
    try:
        while args.max_idle is None or time.monotonic() - last < args.max_idle:
            message = consumer.poll(0.5)
            if message is None:
                if not consumer.assignment():  # still joining the group: not idle yet
                    last = time.monotonic()
                continue
            if message.error():
                print(f"analytics: {message.error()}", file=sys.stderr)
                continue
            last = time.monotonic()
            read += 1
            change = decode(message.value(), writers, reader, registry)
            if change["id"] in seen:
                duplicates += 1
                continue
            seen[change["id"]] = None
            if change["final"]:
                provider, key = change["provider"], change["message_key"]
                if key in final:
                    counts[provider][final[key]] -= 1
                final[key] = change["status"]
                counts[provider][change["status"]] += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    print(json.dumps({p: {s: n for s, n in sorted(c.items()) if n} for p, c in sorted(counts.items())}, indent=2))
    print(f"analytics: {read} read, {duplicates} duplicates dropped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
