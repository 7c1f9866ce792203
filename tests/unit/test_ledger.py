"""streams.worker.ledger: a commit never passes a record that was fetched
and not processed, and passes everything that was processed or absent."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.worker.ledger import OffsetLedger

TP = ("raw.gatewayapi", 0)


def test_processed_in_order_is_committable() -> None:
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.sought(TP, 100)
    ledger.fetched(TP, [100, 101, 102])
    for offset in (100, 101, 102):
        ledger.acked(TP, offset)
    assert ledger.cap(TP, 103) == 103
    assert ledger.cap(TP, 500) == 103  # Faust's gaps are not taken on trust


def test_records_passed_over_hold_the_commit_and_are_read_again() -> None:
    """The CI loss: a range fetched after the seek never reached the fold,
    and the acks of what followed it would have committed past it."""
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger(grace=1.0)
    ledger.sought(TP, 140)
    ledger.fetched(TP, list(range(140, 461)))
    ledger.fetched(TP, list(range(461, 600)))
    for offset in range(461, 600):
        ledger.acked(TP, offset)
    assert ledger.cap(TP, 600) is None  # nothing beyond the committed 140
    assert list(ledger.stuck(now=10.0)) == []  # within the grace
    assert list(ledger.stuck(now=11.0)) == [(TP, 140, 461)]
    assert ledger.reread(TP, now=11.0) == 140
    ledger.fetched(TP, list(range(140, 600)))
    for offset in range(140, 461):
        ledger.acked(TP, offset)
    assert ledger.cap(TP, 600) == 600  # the acks from before the re-read still count
    assert list(ledger.stuck(now=20.0)) == []


def test_a_fetch_starting_past_the_seek_shows_the_offsets_hold_nothing() -> None:
    """Transaction markers, aborted records, retention: the fetcher read from
    the sought position and the first record came later."""
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.sought(TP, 10)
    ledger.fetched(TP, [15, 16, 18, 19])  # 10-14 deleted, 17 a commit marker
    for offset in (15, 16, 18, 19):
        ledger.acked(TP, offset)
    assert ledger.cap(TP, 20) == 20
    ledger.fetched(TP, [21])  # 20: a marker between two fetches
    ledger.acked(TP, 21)
    assert ledger.cap(TP, 22) == 22


def test_a_commit_never_goes_back() -> None:
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.sought(TP, 50)
    assert ledger.cap(TP, 60) is None
    ledger.fetched(TP, [50, 51])
    ledger.acked(TP, 50)
    assert ledger.cap(TP, 60) == 51
    ledger.committed(TP, 51)
    assert ledger.cap(TP, 60) is None


def test_unknown_partitions_are_never_committed() -> None:
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.acked(TP, 5)
    assert ledger.cap(TP, 6) is None
    ledger.sought(TP, 0)
    ledger.forget()
    assert ledger.cap(TP, 6) is None


def test_an_unknown_start_is_the_first_record_fetched() -> None:
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.sought(TP, None)  # no committed offset, and the earliest could not be read
    assert ledger.cap(TP, 10) is None
    ledger.fetched(TP, [7, 8])
    ledger.acked(TP, 7)
    assert ledger.cap(TP, 10) == 8


History = tuple[int, list[int], list[list[int]], list[int]]


@st.composite
def histories(draw: st.DrawFn) -> History:
    """A log from `start` with some offsets absent, the fetches of it in order
    (some ranges fetched and never delivered), and the acks: in order, any
    subset of what was fetched."""
    start = draw(st.integers(0, 50))
    length = draw(st.integers(1, 60))
    present = [o for o in range(start, start + length) if draw(st.booleans()) or o == start + length - 1]
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(present) - 1)), max_size=5)))
    batches, previous = [], 0
    for cut in [*cuts, len(present)]:
        if cut > previous:
            batches.append(present[previous:cut])
            previous = cut
    acked = [o for o in present if draw(st.integers(0, 4))]  # mostly acked, some dropped
    return start, present, batches, acked


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_commit_never_passes_an_unprocessed_record(history: History) -> None:
    start, present, batches, acked = history
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.sought(TP, start)
    for batch in batches:
        ledger.fetched(TP, batch)
    for offset in acked:
        ledger.acked(TP, offset)
    cap = ledger.cap(TP, 10**9)
    missing = [o for o in present if o not in set(acked)]
    if missing:
        assert cap is None or cap <= missing[0]
    else:
        assert cap == present[-1] + 1  # everything processed or absent: all of it committable


def test_a_record_past_a_skipped_one_is_kept_out_and_the_partition_read_again() -> None:
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger(grace=1.0)
    ledger.sought(TP, 10)
    ledger.fetched(TP, list(range(10, 20)))
    expect: dict[tuple[str, int], int] = {}
    assert [o for o in (10, 11, 14, 15) if ledger.admit(TP, o, expect)] == [10, 11]  # 12, 13 went missing
    ledger.acked(TP, 10)
    ledger.acked(TP, 11)
    assert list(ledger.stuck(now=5.0)) == [(TP, 12, 14)]  # at once: nothing past 12 was processed
    assert ledger.reread(TP, now=5.0) == 12
    # records fetched before the seek still come through: kept out, no second seek within the grace
    assert not ledger.admit(TP, 16, {})
    assert list(ledger.stuck(now=5.5)) == []
    ledger.fetched(TP, list(range(12, 20)))
    expect = {}
    assert all(ledger.admit(TP, o, expect) for o in range(12, 20))
    for offset in range(12, 20):
        ledger.acked(TP, offset)
    assert ledger.cap(TP, 20) == 20
    assert list(ledger.stuck(now=9.0)) == []


def test_records_read_again_are_admitted_and_offsets_with_no_record_are_skipped() -> None:
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger()
    ledger.sought(TP, 0)
    ledger.fetched(TP, [0, 1, 3])  # 2: a transaction marker
    expect: dict[tuple[str, int], int] = {}
    assert all(ledger.admit(TP, o, expect) for o in (0, 1, 3))
    for offset in (0, 1, 3):
        ledger.acked(TP, offset)
    assert ledger.admit(TP, 1, {})  # processed before, read again: folding it changes nothing


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 120))
def test_records_lost_on_the_way_are_processed_in_order_and_none_is_committed_unprocessed(
        seed: int, length: int) -> None:
    """A worker loop in miniature: the fetcher reads the log from its
    position, some fetched records never reach the agent (dropped on the
    way), the agent processes what `admit` lets through and acks it, and the
    worker reads again what `stuck` names. Every record is processed, each
    partition's first processing is in offset order, and no commit ever
    passes a record not processed."""
    rng = random.Random(seed)
    log = [o for o in range(length) if rng.random() < 0.85] or [0]
    end = log[-1] + 1
    ledger: OffsetLedger[tuple[str, int]] = OffsetLedger(grace=1.0, idle=3.0)
    ledger.sought(TP, 0)
    position, now, processed = 0, 0.0, []  # processed: first time only
    for _ in range(10 * length + 50):
        batch = [o for o in log if o >= position][: rng.randint(1, 8)]
        if batch:
            ledger.fetched(TP, batch)
            position = batch[-1] + 1
        delivered = [o for o in batch if rng.random() > 0.1]
        expect: dict[tuple[str, int], int] = {}
        for offset in delivered:
            if ledger.admit(TP, offset, expect):
                if offset not in processed:
                    processed.append(offset)
                ledger.acked(TP, offset)
        cap = ledger.cap(TP, end)
        unprocessed = [o for o in log if o not in processed]
        assert cap is None or not unprocessed or cap <= unprocessed[0]
        now += 0.6
        for tp, _start, _seen in list(ledger.stuck(now)):
            reread = ledger.reread(tp, now)
            assert reread is not None
            position = reread
        if len(processed) == len(log):
            break
    assert processed == log
    assert ledger.cap(TP, end) == end
