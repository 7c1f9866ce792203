"""`dlr produce`: raw receipts from a file or pipe onto a provider's raw topic."""

from __future__ import annotations

import sys
from typing import IO

from streams.core import providers
from streams.kafka.admin import client_config, ensure_topics
from streams.ops.offline import lines
from streams.serde import envelope
from streams.topics import raw_topic


def message_key(provider: str, line: bytes, options: providers.Options) -> bytes | None:
    """The record key: the receipt's message key when the line parses, so all
    receipts of one message share a raw partition and keep their order.
    A line that does not parse is still written (keyless) and dead-lettered
    by the worker, where an operator sees it."""
    key = providers.message_key(provider, line, options)
    return None if key is None else key.encode()


def produce(bootstrap: str, provider: str, source: IO[bytes], partitions: int) -> int:
    from confluent_kafka import Producer

    ensure_topics(bootstrap, partitions)
    topic = raw_topic(provider)
    # murmur2: the partitioner Faust (and the Java client) use, so a key lands
    # on the same partition whoever writes it.
    producer = Producer(client_config(bootstrap, {
        "linger.ms": 5, "enable.idempotence": True, "partitioner": "murmur2_random"}))
    options = providers.Options(received_at=0)
    acked = failed = sent = 0
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        nonlocal acked, failed
        if err is None:
            acked += 1
        else:
            failed += 1
            errors.append(str(err))

    for line in lines(source):
        if not line.strip():
            continue
        producer.produce(topic, envelope.make(provider, line, "cli"), key=message_key(provider, line, options),
                         on_delivery=delivered)
        sent += 1
        producer.poll(0)
    producer.flush(30)
    unconfirmed = sent - acked - failed
    print(f"{acked} of {sent} receipts acknowledged on {topic}", file=sys.stderr)
    for error in errors[:5]:
        print(f"  failed: {error}", file=sys.stderr)
    return 0 if acked == sent else (2 if unconfirmed else 1)
