"""Two workers (issue item 2): a second worker joins mid-stream, then the first
stops mid-stream. The live state is exactly the offline fold, no change is
missing, the only duplicates are exact re-emissions, and every partition of
every input topic is processed to its end."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from streams.kafka.broker import EmbeddedBroker
from tests.reliability.conftest import Workers
from tests.reliability.harness import (
    PASSED_OVER,
    Feeder,
    committed,
    end_offsets,
    generated,
    group_members,
    input_topics,
    lag,
    log_count,
    offline,
    raw_topics,
    settled_verify,
    wait_drained,
    wait_progress,
    watermark_sum,
)
from tests.reliability.test_crash import seed

pytestmark = pytest.mark.reliability


RECEIPTS_N = 40_000
RATE = 800.0
DRAIN = 120.0  # seconds after the feed for the group to commit everything (it needs a few)


def wait_members(bootstrap: str, want: Callable[[list[int]], bool], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    members = group_members(bootstrap)
    while not want(members):
        assert time.monotonic() < deadline, f"group never settled as wanted: {members}"
        time.sleep(0.5)
        members = group_members(bootstrap)
    return members


@pytest.mark.timeout(480)
def test_second_worker_joins_and_first_leaves_mid_stream(broker: EmbeddedBroker, workers: Workers,
                                                          report: Callable[[str], None]) -> None:
    from streams.topics import CHANGELOG

    run_seed = seed()
    rnd = random.Random(run_seed)
    items = generated(RECEIPTS_N, seed=run_seed)
    want = offline(i.receipt for i in items if i.receipt is not None)
    bootstrap = broker.bootstrap

    reaper = workers.reaper  # the session expiry noida-db lacks
    start = time.monotonic()
    first = workers.new("w1").start()
    feeder = Feeder(bootstrap, items, rate=RATE)
    feeder.start()
    wait_progress(bootstrap, first, 0, need=rnd.randint(1000, 4000), timeout=120)
    inputs = input_topics(bootstrap)

    joined_at = time.monotonic() - start
    behind_at_join = sum(lag(bootstrap, inputs).values())
    second = workers.new("w2").start()
    shared = wait_members(bootstrap, lambda m: len(m) == 2 and all(n > 0 for n in m), timeout=120)
    shared_after = time.monotonic() - start - joined_at
    since = watermark_sum(bootstrap, [CHANGELOG])
    wait_progress(bootstrap, second, since, need=rnd.randint(1000, 4000), timeout=120)
    assert not first.crashed, first.log_tail()

    left_at = time.monotonic() - start
    behind_at_leave = sum(lag(bootstrap, inputs).values())
    stopped_with = first.stop()
    # What Kafka's session timeout does for any member id the stopped worker
    # left behind (a LeaveGroup lost on the way, or an id it gave up to join
    # again): noida-db never expires one, and the group would wait for it.
    reaper.dead(first)
    alone = wait_members(bootstrap, lambda m: len(m) == 1 and m[0] > 0, timeout=120)
    alone_after = time.monotonic() - start - left_at

    feeder.join(300)
    feeder.check()
    drain = wait_drained(bootstrap, [second], timeout=DRAIN, fail=False)
    elapsed = time.monotonic() - start

    inputs = input_topics(bootstrap)
    ends = end_offsets(bootstrap, inputs)
    done = committed(bootstrap, inputs)
    unprocessed = sorted(tp for tp, end in ends.items() if max(done.get(tp, -1), 0) < end)
    left = sum(end - max(done.get(tp, -1), 0) for tp, end in ends.items() if tp in unprocessed)
    empty = sorted(tp for tp, end in ends.items() if end == 0)
    verdict = settled_verify(bootstrap, want)

    report(f"two workers: w1 stopped with exit code {stopped_with}")
    report(f"two workers: seed={run_seed} receipts={RECEIPTS_N} messages={len(want.states)} "
           f"lost={verdict.lost} wrong={verdict.wrong} duplicates={verdict.duplicates} (same id) "
           f"dead_letters={verdict.dead_letters} partitions={len(ends)} unprocessed={len(unprocessed)} "
           f"({left} records left after {DRAIN:.0f}s: {unprocessed}) "
           f"elapsed={elapsed:.0f}s drained_after={drain:.0f}s")
    report(f"two workers: w2 joined at {joined_at:.0f}s ({behind_at_join} behind), partitions per member "
           f"{shared} after {shared_after:.1f}s; w1 left at {left_at:.0f}s ({behind_at_leave} behind), "
           f"w2 held {alone} after {alone_after:.1f}s")
    report(f"two workers: {verdict.figures()}")
    report(f"two workers: member ids given up and expired by the test (noida-db keeps them): {len(reaper.expired)}")
    logs = [w.log_path.read_text(errors="replace") for w in (first, second)]
    report(f"two workers: partitions read again from a record skipped on the way to the fold: "
           f"{log_count(logs, PASSED_OVER)}")

    assert behind_at_join > 0 and behind_at_leave > 0, "join and leave must happen mid-stream"
    raw_empty = [tp for tp in empty if tp[0] in raw_topics()]
    assert raw_empty == [], f"raw partitions that never got a record (the check would be empty): {raw_empty}"
    assert unprocessed == [], f"partitions the group did not process to their end: {unprocessed}"
    assert verdict.dead_letters == 0
    assert verdict.extra_states == [], verdict.explain()
    assert verdict.clean, verdict.explain()
