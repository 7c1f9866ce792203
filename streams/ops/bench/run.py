"""`dlr bench [--quick]`: every figure on its own line, the summary last."""

from __future__ import annotations

import os
import time

from streams.ops.bench import core, e2e


def main(quick: bool) -> int:
    started = time.monotonic()
    n = 20_000 if quick else 100_000
    print(f"bench: {'quick' if quick else 'full'} run, {os.cpu_count()} cores", flush=True)
    for provider, rate in core.normalize_rates(n // 2).items():
        print(f"normalize {provider}: {rate:,.0f} receipts/s (one core)", flush=True)
    print(f"fold: {core.fold_rate(n):,.0f} events/s (one core)", flush=True)
    states = 100_000 if quick else 1_000_000
    mem = core.state_bytes(states)
    print(f"state: {states:,} messages, {mem['encoded']:.0f} B encoded value, "
          f"{mem['memory_store']:.0f} B/message in the memory store, "
          f"{mem['rocksdb_disk']:.0f} B/message in RocksDB on disk", flush=True)
    f = e2e.run(20_000 if quick else 60_000)  # quick: a backlog of about 50,000 receipts, 5-6 s of work
    print(f"e2e records: {f['records']:,.0f} raw receipts (produced in {f['produce_s']:.1f}s)")
    print(f"ceiling: {f['ceiling']:,.0f} records/s (bare confluent-kafka consume-produce)")
    print(f"e2e: {f['e2e']:,.0f} receipts/s (one worker, backlog until every status change is out)")
    print(f"peer: {f['peer']:,.0f} receipts/s (plain Faust agent + Table)")
    print(f"latency full speed: p50={f['p50_full']:.0f} ms p99={f['p99_full']:.0f} ms")
    print(f"latency at 70% ({0.7 * f['e2e']:,.0f}/s): p50={f['p50_70']:.0f} ms p99={f['p99_70']:.0f} ms")
    print(f"elapsed: {time.monotonic() - started:.0f}s")
    print(f"summary: e2e={f['e2e']:.0f} ceiling={f['ceiling']:.0f} peer={f['peer']:.0f} "
          f"pipeline/ceiling={f['e2e'] / f['ceiling']:.3f} pipeline/peer={f['e2e'] / f['peer']:.2f}")
    return 0
