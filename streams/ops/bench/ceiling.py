"""The ceiling: a bare confluent-kafka consume-produce loop, no parsing, no
state. Run as `python -m streams.ops.bench.ceiling BOOTSTRAP N TOPIC...`; prints
`records/s` when N records are consumed and produced."""

from __future__ import annotations

import sys
import time

from confluent_kafka import Consumer, Producer


def main(bootstrap: str, expected: int, topics: list[str]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlr-bench-ceiling",
                         "auto.offset.reset": "earliest", "enable.auto.commit": True})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    consumer.subscribe(topics)
    seen = 0
    start = None
    while seen < expected:
        for message in consumer.consume(1000, 0.5):
            if message.error():
                continue
            if start is None:
                start = time.perf_counter()
            while True:
                try:
                    producer.produce("dlr.bench.sink", message.value(), message.key())
                    break
                except BufferError:
                    producer.poll(0.01)
            seen += 1
        producer.poll(0)
    producer.flush()
    elapsed = time.perf_counter() - (start or time.perf_counter())
    consumer.close()
    print(f"{seen / elapsed:.0f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
