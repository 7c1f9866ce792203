"""Replay determinism (issue item 7): rebuild every state from the raw topics
and compare it with the live state: zero differences.

Until `dlr rebuild` exists this replays offline with the same core the worker
runs (streams.serde.envelope + streams.core.providers + streams.core.fold): every record of
every raw topic read back from the broker, normalized with its own envelope's
received_at (a bare record: its Kafka timestamp), folded; the live state is
the last MessageState per key on the changelog. The stream mixes generated
receipts, every sample line (Messente's legacy GET receipts included, whose
event time is the received_at), the samples again with other received_at
values, and bare, non-envelope records."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from streams.core import providers, samples
from streams.core.fold import fold_all
from streams.core.model import Receipt, ReceiptError
from streams.kafka.broker import EmbeddedBroker
from streams.serde import envelope
from streams.topics import RAW_PREFIX
from tests.reliability.conftest import Workers
from tests.reliability.harness import (
    RECEIVED_AT,
    Feeder,
    Offline,
    Raw,
    change_json,
    generated,
    raw,
    raw_topics,
    read_all,
    settled_verify,
    wait_drained,
)

pytestmark = pytest.mark.reliability

GENERATED = 15_000


def stream(rnd: random.Random) -> list[Raw]:
    items = generated(GENERATED, seed=71)
    for round_ in range(3):
        for provider, lines in samples.all_lines().items():
            for line in lines:
                at = RECEIVED_AT + round_ * 3_600_000_000 + rnd.randrange(10**9)
                # the third round goes in bare, as an upstream gateway writes it
                items.insert(rnd.randrange(len(items) + 1), raw(provider, line, received_at=at, bare=round_ == 2))
    return items


def replay(bootstrap: str) -> tuple[list[Receipt], int]:
    """Every raw record normalized as the worker does it, in partition order."""
    receipts: list[Receipt] = []
    bad = 0
    for rec in read_all(bootstrap, raw_topics()):
        provider = rec.topic.removeprefix(RAW_PREFIX)
        try:
            env = envelope.read(rec.value, rec.timestamp_us)
            if env["provider"] not in (None, provider):
                raise ReceiptError("envelope of another provider")
        except ReceiptError:
            bad += 1
            continue
        options = providers.Options(received_at=env["received_at"])
        for result in providers.normalize_all(provider, env["payload"], options):  # a batch: several
            if isinstance(result, ReceiptError):
                bad += 1
            else:
                receipts.append(result)
    return receipts, bad


@pytest.mark.timeout(420)
def test_replaying_the_raw_topics_rebuilds_the_live_state(broker: EmbeddedBroker, workers: Workers,
                                                          report: Callable[[str], None]) -> None:
    bootstrap = broker.bootstrap
    items = stream(random.Random(7))
    worker = workers.new("w1").start()
    start = time.monotonic()
    feeder = Feeder(bootstrap, items, rate=None)
    feeder.run()
    feeder.check()
    wait_drained(bootstrap, [worker], timeout=300)
    elapsed = time.monotonic() - start

    replaying = time.monotonic()
    receipts, bad = replay(bootstrap)
    states, emitted = fold_all(receipts)
    replay_s = time.monotonic() - replaying
    verdict = settled_verify(bootstrap, Offline(states, {e.id: change_json(e) for e in emitted}))
    bare = sum(1 for i in items if i.value is not None and i.value[:2] != b"\xc3\x01")

    report(f"replay: raw_records={len(items)} (bare {bare}) receipts={len(receipts)} bad={bad} "
           f"messages={len(states)} differences={len(verdict.wrong_states) + len(verdict.lost_states)} "
           f"(differing {len(verdict.wrong_states)}, only offline {len(verdict.lost_states)}, only live "
           f"{len(verdict.extra_states)}) changes_differences={len(verdict.missing_changes)} missing, "
           f"{len(verdict.unexpected_changes)} unexpected, {len(verdict.differing_changes)} differing; "
           f"dead_letters={verdict.dead_letters} live_in={elapsed:.0f}s replay_in={replay_s:.1f}s")
    assert bad > 0 and bare > 0  # the samples' bad lines and the bare records are in the mix
    assert verdict.clean, verdict.explain()
    assert verdict.dead_letters == bad
