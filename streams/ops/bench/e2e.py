"""End to end through the embedded broker: the pipeline (one real worker
process), the ceiling and the peer, on the same broker and the same records."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from streams.core import providers
from streams.core.fold import fold_all
from streams.core.generate import receipts
from streams.core.model import ReceiptError
from streams.kafka.admin import client_config, ensure_topics
from streams.kafka.broker import EmbeddedBroker, free_port
from streams.kafka.processes import WorkerProcess
from streams.ops.bench.reader import Reader
from streams.serde import envelope
from streams.topics import RAW_PREFIX, STATUS_CHANGES, TopicSpec, raw_topic

PARTITIONS = 4


@dataclass
class Load:
    """Encoded raw records and what the fold must emit for them."""

    records: list[tuple[str, bytes | None, bytes]]  # topic, key, value
    status_changes: int
    first_key: dict[bytes, int]  # message key -> index of its first record


def make_load(messages: int, first_id: int = 1, seed: int = 7) -> Load:
    options = providers.Options(received_at=0)
    items: list[tuple[str, bytes | None, bytes]] = []
    parsed = []
    first: dict[bytes, int] = {}
    for g in receipts(messages, first_id=first_id, seed=seed):
        try:
            r = providers.normalize(g.provider, g.payload, options)
        except ReceiptError:
            continue
        key = r.message_key.encode()
        first.setdefault(key, len(items))
        parsed.append(r)
        items.append((raw_topic(g.provider), key, envelope.make(g.provider, g.payload, "bench")))
    _, emitted = fold_all(parsed)
    changes = sum(1 for e in emitted if type(e).__name__ == "StatusChange")
    return Load(items, changes, first)


def produce(bootstrap: str, load: Load, rate: float | None = None,
            sent_at: dict[bytes, float] | None = None) -> float:
    """Write the load (paced to `rate` records/s when given); returns seconds taken."""
    from confluent_kafka import Producer

    producer = Producer(client_config(bootstrap, {"linger.ms": 2, "partitioner": "murmur2_random",
                                                  "queue.buffering.max.messages": 1_000_000}))
    # Connected and the raw topics' metadata known before the first record,
    # so that the producer's own start is never counted as pipeline latency.
    for topic in sorted({topic for topic, _, _ in load.records}):
        producer.list_topics(topic, timeout=10)
    start = time.perf_counter()
    for i, (topic, key, value) in enumerate(load.records):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        if sent_at is not None and key is not None and load.first_key.get(key) == i:
            sent_at[key] = time.time()
        producer.produce(topic, value, key)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    return time.perf_counter() - start


def count_status_changes(bootstrap: str, expected: int, timeout: float,
                         seen_at: dict[bytes, float] | None = None, keys: dict[bytes, int] | None = None,
                         ready: threading.Event | None = None) -> tuple[int, float]:
    """Consume status changes (of messages in `keys`, if given) until `expected`
    arrived; note when each message's first one did. Returns the count and the
    seconds from the first to the last."""
    # `ready` is set once the group has given this reader its partitions: a
    # latency run starts writing only then, or the join would be measured.
    reader = Reader(bootstrap, STATUS_CHANGES, ready=ready)
    seen = 0
    first = last = 0.0
    deadline = time.monotonic() + timeout
    # Each poll returns what came within `wait`: when timing arrivals the
    # wait must be short, or it is measured.
    wait = 0.002 if seen_at is not None else 0.1
    try:
        while seen < expected and time.monotonic() < deadline:
            for message in reader.records(wait):
                if keys is not None and message.key not in keys:
                    continue
                seen += 1
                last = time.perf_counter()
                first = first or last
                key = message.key
                if seen_at is not None and key is not None:
                    seen_at.setdefault(key, time.time())
    finally:
        reader.close()
    return seen, last - first


def pipeline_rate(bootstrap: str, load: Load, work: Path, timeout: float) -> float:
    """receipts/s of one worker over a pre-loaded backlog, from its first status
    change out to the last (start-up is not counted, as for the peer)."""
    worker = WorkerProcess(bootstrap, work / "worker").start()
    try:
        seen, elapsed = count_status_changes(bootstrap, load.status_changes, timeout)
        if seen < load.status_changes:
            raise RuntimeError(f"pipeline: {seen} of {load.status_changes} status changes after {timeout}s\n"
                               f"{worker.log_tail()}")
        return len(load.records) / elapsed
    finally:
        worker.stop()


def latency(bootstrap: str, load: Load, rate: float, work: Path) -> tuple[float, float]:
    """p50 and p99 ms from a message's first raw write to its first status change,
    with the worker running and receipts arriving at `rate` per second."""
    worker = WorkerProcess(bootstrap, work / "worker").start()
    try:
        worker.wait_ready(180)  # assigned and recovered: a latency run measures processing, not recovery
        time.sleep(1)
        sent_at: dict[bytes, float] = {}
        seen_at: dict[bytes, float] = {}
        expected = load.status_changes
        ready = threading.Event()
        reader = threading.Thread(target=count_status_changes,
                                  args=(bootstrap, expected, 300, seen_at, load.first_key, ready))
        reader.start()
        if not ready.wait(60):
            raise RuntimeError("latency: the status-change reader got no partitions in 60s")
        produce(bootstrap, load, rate, sent_at)
        reader.join()
        waits = sorted((seen_at[k] - t) * 1000 for k, t in sent_at.items() if k in seen_at)
        if not waits:
            raise RuntimeError("latency: no status change seen")
        return waits[len(waits) // 2], waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    finally:
        worker.stop()


def ceiling_rate(bootstrap: str, records: int) -> float:
    ensure_topics(bootstrap, PARTITIONS, [TopicSpec("dlr.bench.sink", "RawReceipt", "-", 3_600_000)])
    raw = [RAW_PREFIX + p for p in providers.names()]
    out = subprocess.run([sys.executable, "-m", "streams.ops.bench.ceiling", bootstrap, str(records), *raw],
                         capture_output=True, text=True, timeout=600, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def peer_rate(bootstrap: str, records: int, work: Path, timeout: float) -> float:
    """receipts/s of the plain Faust peer, until its table has taken every receipt."""
    changelog = "dlr-bench-peer-peer-state-changelog"
    ensure_topics(bootstrap, PARTITIONS, [TopicSpec(changelog, "-", "-", -1, compacted=True)])
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "streams.ops.bench.peer", bootstrap, str(work / "peer"),
                                str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reader = Reader(bootstrap, changelog, "dlr-bench-peer-count")
    seen, start = 0, None
    deadline = time.monotonic() + timeout
    try:
        while seen < records and time.monotonic() < deadline:
            batch = sum(1 for _ in reader.records(0.1))
            if batch and start is None:
                start = time.perf_counter()
            seen += batch
        if seen < records:
            raise RuntimeError(f"peer: {seen} of {records} table writes after {timeout}s")
        assert start is not None
        return records / (time.perf_counter() - start)
    finally:
        reader.close()
        process.terminate()
        process.wait(30)


def run(messages: int, timeout: float = 900) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="dlr-bench-"))
    figures: dict[str, float] = {}
    with EmbeddedBroker("noida", data_dir=work / "broker") as broker:
        ensure_topics(broker.bootstrap, PARTITIONS)
        load = make_load(messages)
        figures["records"] = len(load.records)
        figures["produce_s"] = produce(broker.bootstrap, load)
        figures["ceiling"] = ceiling_rate(broker.bootstrap, len(load.records))
        figures["e2e"] = pipeline_rate(broker.bootstrap, load, work / "e2e", timeout)
        figures["peer"] = peer_rate(broker.bootstrap, len(load.records), work, timeout)
    # Each latency run on a broker of its own: noida-db saves a snapshot of
    # everything it holds every few seconds, and with what the stages above
    # wrote (about 200,000 records at --quick) that took 40-70% of a core,
    # on the cores the worker is measured on (6-12% on a fresh broker).
    for name, rate, seed in (("full", 0.0, 9), ("70", 0.7 * figures["e2e"], 10)):
        with EmbeddedBroker("noida", data_dir=work / f"broker-{name}") as broker:
            ensure_topics(broker.bootstrap, PARTITIONS)
            paced = make_load(max(messages // 2, 8000), first_id=seed * 1_000_000, seed=seed)
            figures[f"p50_{name}"], figures[f"p99_{name}"] = latency(broker.bootstrap, paced, rate,
                                                                     work / f"lat-{name}")
    return figures
