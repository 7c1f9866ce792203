"""Normalize and fold on one core; bytes per message state in the stores."""

from __future__ import annotations

import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict

from streams.core import providers, records
from streams.core.fold import fold_into
from streams.core.generate import receipts
from streams.core.model import MessageState, Receipt
from streams.serde import codec


def normalize_rates(messages: int) -> dict[str, float]:
    """receipts/s per provider format, raw bytes to canonical record."""
    by_provider: dict[str, list[bytes]] = defaultdict(list)
    for item in receipts(messages, duplicate=0, reorder=0):
        by_provider[item.provider].append(item.payload)
    options = providers.Options(received_at=0)
    rates = {}
    for provider, lines in sorted(by_provider.items()):
        parse = providers.parser(provider)
        start = time.perf_counter()
        for line in lines:
            parse(line, options)
        rates[provider] = len(lines) / (time.perf_counter() - start)
    return rates


def _receipt_list(messages: int) -> list[Receipt]:
    options = providers.Options(received_at=0)
    return [providers.normalize(g.provider, g.payload, options) for g in receipts(messages)]


def fold_rate(messages: int) -> float:
    """events/s of the fold itself over a dict of states."""
    events = _receipt_list(messages)
    # The input out of the collector's sight, as the worker's start-up objects
    # are (gc.freeze): otherwise every full collection in the timed loop walks
    # the 250,000 receipts of the full run (267-297k events/s there, 314-319k
    # frozen; the same either way at --quick).
    gc.collect()
    gc.freeze()
    try:
        states: dict[str, MessageState] = {}
        start = time.perf_counter()
        fold_into(states, events)
        return len(events) / (time.perf_counter() - start)
    finally:
        gc.unfreeze()


def state_bytes(messages: int) -> dict[str, float]:
    """Bytes per in-flight message state: the encoded value, the memory store
    (a dict of key -> encoded state, as Faust's memory store holds it) and the
    RocksDB store's files on disk."""
    options = providers.Options(received_at=0)
    finals: dict[bytes, bytes] = {}
    states = fold_into({}, (providers.normalize(g.provider, g.payload, options)
                            for g in receipts(messages, duplicate=0, reorder=0)))
    encoded = {k.encode(): codec.encode("MessageState", records.to_avro(s)) for k, s in states.items()}
    del states
    gc.collect()
    value_avg = sum(len(v) for v in encoded.values()) / len(encoded)
    finals = {bytes(bytearray(k)): bytes(bytearray(v)) for k, v in encoded.items()}  # real copies
    # Counted, not read off RSS: a growth of RSS partly reuses what freeing
    # the folded states left behind, and read as low as 85 B here.
    memory = (sys.getsizeof(finals) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in finals.items())) / len(finals)
    disk = _rocksdb_bytes(finals)
    del finals, encoded
    return {"encoded": value_avg, "memory_store": memory, "rocksdb_disk": disk,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _rocksdb_bytes(states: dict[bytes, bytes]) -> float:
    from rocksdict import Rdict

    path = tempfile.mkdtemp(prefix="dlr-bench-rocks-")
    try:
        db = Rdict(path)
        for key, value in states.items():
            db[key] = value
        db.flush()
        db.compact_range(None, None)
        db.close()
        size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".sst"))
        return size / len(states)
    finally:
        shutil.rmtree(path, ignore_errors=True)
