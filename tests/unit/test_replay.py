"""The pure parts of `dlr replay` and `dlr rebuild`: ranges, times, the replay
plan, the summary, the progress line, differences and corrections, and the
consumer convention that corrections rely on (docs/replay.md)."""

from __future__ import annotations

import io
import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import providers, samples
from streams.core.fold import Emitted, change_id, fold, fold_all
from streams.core.model import (
    CHARGE_RANK,
    RANK,
    ChargeChange,
    ChargeStatus,
    ErrorCategory,
    MessageState,
    Receipt,
    Status,
    StatusChange,
    parse_iso,
)
from streams.core.providers.vonage import parse as vonage
from streams.kafka.clients import PartitionRange, RawRecord
from streams.ops.rebuild import (
    HISTORY_MARGIN_US,
    Difference,
    Outcome,
    carry_over,
    correction_id,
    corrections,
    differences,
    is_correction,
    progress_group,
)
from streams.ops.rebuild import summary_text as rebuild_summary_text
from streams.ops.replay import (
    ALL_PARTITIONS,
    Item,
    Progress,
    Request,
    check,
    clip,
    gone_text,
    offset_ranges,
    parse_offsets,
    parse_time,
    plan,
    select,
    source_ranges,
    summary,
    summary_text,
    time_ranges,
)
from streams.serde import envelope
from streams.topics import murmur2, partition_for, raw_topic
from streams.worker import steps

NOW_MS = 1_780_000_000_000
T0 = 1_780_000_000_000_000


# ---- times and ranges ------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-12", parse_iso("2026-03-12T00:00:00Z") // 1000),
    ("2026-03-12T09:30:00Z", parse_iso("2026-03-12T09:30:00Z") // 1000),
    ("2026-03-12T09:30:00", parse_iso("2026-03-12T09:30:00Z") // 1000),  # no zone: UTC
    ("2026-03-12T11:30:00+02:00", parse_iso("2026-03-12T09:30:00Z") // 1000),
    ("2026-03-12 09:30:00.250Z", parse_iso("2026-03-12T09:30:00Z") // 1000 + 250),
    ("now", NOW_MS),
    ("-90s", NOW_MS - 90_000),
    ("-15m", NOW_MS - 900_000),
    ("-2h", NOW_MS - 7_200_000),
    ("-1.5d", NOW_MS - 129_600_000),
])
def test_parse_time(text: str, expected: int) -> None:
    assert parse_time(text, NOW_MS) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "-2w", "2026-13-01", "12:00"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text, NOW_MS)


def test_parse_offsets() -> None:
    assert parse_offsets("120") == {ALL_PARTITIONS: 120}
    assert parse_offsets("0:10, 3:7") == {0: 10, 3: 7}
    for bad in ["", "x", "1:x", "-1", "1:-2", "0:1,0:2", "5,0:1"]:
        with pytest.raises(ValueError):
            parse_offsets(bad)


def test_clip() -> None:
    assert clip(10, 50, None, None) == (10, 50)
    assert clip(10, 50, 0, 20) == (10, 20)  # before the low watermark: from the oldest record
    assert clip(10, 50, 40, 99) == (40, 50)  # past the end: to the end
    assert clip(10, 50, 30, 20) == (30, 30)  # an empty range, never a negative one
    assert clip(10, 50, 70, None) == (50, 50)


def test_offset_ranges() -> None:
    marks = {0: (0, 100), 1: (5, 50), 2: (0, 0)}
    assert offset_ranges("t", marks, {ALL_PARTITIONS: 10}, None) == [
        PartitionRange("t", 0, 10, 100), PartitionRange("t", 1, 10, 50), PartitionRange("t", 2, 0, 0)]
    # P:O reads only the partitions it names; --to-offset caps the ones it names
    assert offset_ranges("t", marks, {1: 20}, {0: 30}) == [PartitionRange("t", 1, 20, 50)]
    assert offset_ranges("t", marks, {0: 20, 1: 0}, {0: 30}) == [
        PartitionRange("t", 0, 20, 30), PartitionRange("t", 1, 5, 50)]
    assert sum(r.size for r in offset_ranges("t", marks, {ALL_PARTITIONS: 0}, {ALL_PARTITIONS: 7})) == 7 + 2


def test_time_ranges() -> None:
    marks = {0: (0, 100), 1: (0, 40)}
    # offsets_for_times answers -1 where no record is that late: the end
    assert time_ranges("t", marks, {0: 60, 1: -1}, None) == [PartitionRange("t", 0, 60, 100),
                                                              PartitionRange("t", 1, 40, 40)]
    assert time_ranges("t", marks, {0: 60, 1: 10}, {0: 80, 1: -1}) == [PartitionRange("t", 0, 60, 80),
                                                                        PartitionRange("t", 1, 10, 40)]


def test_check_the_range_options() -> None:
    def request(**kw: object) -> Request:
        return Request(bootstrap="b", providers=["vonage"], state_version=1, **kw)  # type: ignore[arg-type]

    check(request(from_time="-1d"), all_providers=True)
    check(request(from_time="2026-03-12", to_time="2026-03-13"), all_providers=True)
    check(request(from_offset="0"), all_providers=True)
    check(request(from_offset="0:5", to_offset="0:9"), all_providers=False)
    check(request(from_time="-1d", dead_letters=True), all_providers=True)
    check(request(from_time="-1d", to_time="-1h", dead_letters=True, mappings="map.toml"), all_providers=False)
    for kw, message in [({}, "give --from"), ({"to_time": "now"}, "--to needs --from"),
                        ({"to_offset": "5"}, "--to-offset needs"),
                        ({"from_time": "now", "from_offset": "0"}, "not both"),
                        ({"from_offset": "0:5"}, "give --provider"),
                        ({"from_time": "now", "wait": -1.0}, "negative"),
                        ({"from_time": "yesterday"}, "not a time"),
                        ({"from_time": "now", "to_time": "x"}, "not a time"),
                        ({"from_offset": "a"}, "not an offset"), ({"from_offset": "0", "to_offset": "-3"}, "negative"),
                        ({"dead_letters": True}, "--dead-letters needs --from TIME"),
                        ({"dead_letters": True, "to_time": "now"}, "--dead-letters needs --from TIME"),
                        ({"dead_letters": True, "from_offset": "0"}, "not offsets")]:
        with pytest.raises(ValueError, match=message):
            check(request(**kw), all_providers=True)


def test_partition_for_is_the_java_murmur2() -> None:
    # Kafka's own test vectors (clients UtilsTest.testMurmur2), as positive ints mod 2**31
    vectors = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
               b"a-little-bit-longer-string": -1486304829,
               b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107}
    for key, java in vectors.items():
        assert partition_for(key, 2**31 - 1) == (java & 0x7FFFFFFF) % (2**31 - 1)
    assert {partition_for(f"vonage:{i}".encode(), 4) for i in range(100)} == {0, 1, 2, 3}


@settings(max_examples=2000)
@given(st.binary(max_size=300))
def test_murmur2_is_aiokafkas(key: bytes) -> None:
    """Ours reads words at a time; aiokafka's (what Faust's producer uses) is the reference."""
    from aiokafka.partitioner import murmur2 as reference

    assert murmur2(key) == reference(key)


# ---- the replay plan -------------------------------------------------------


def raw_items(lines: dict[str, list[bytes]]) -> list[Item]:
    """The sample lines as a raw topic holds them, normalized as the worker does."""
    out = []
    options = providers.Options()
    for provider, provider_lines in lines.items():
        for offset, line in enumerate(provider_lines):
            value = envelope.make(provider, line, "test", received_at=T0)
            out.extend(steps.normalize_raw(RawRecord(raw_topic(provider), 0, offset, None, value, T0 // 1000), options))
    return out


def live_states(items: Iterable[Item]) -> dict[str, MessageState]:
    return fold_all([it.receipt for it in items if it.receipt is not None])[0]


def dead_coordinates(items: Iterable[Item]) -> set[tuple[str, int, int]]:
    return {it.coordinates for it in items if it.receipt is None}


def test_a_replay_of_what_was_folded_changes_nothing() -> None:
    items = raw_items(samples.all_lines())
    result = plan(items, live_states(items), dead_coordinates(items).__contains__, 0)
    records = sum(len(lines) for lines in samples.all_lines().values())
    assert result.read == records < len(items)  # records read; a batch line (Infobip) holds several reports
    assert result.receipts == len(items) - result.dead
    assert result.dead == len(samples.all_lines())  # one bad line per provider
    assert (result.changed, result.emitted, result.write, result.dead_letters) == (0, [], [], [])


def test_a_replay_after_a_mapping_change_emits_exactly_what_the_fold_can_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lines = samples.all_lines()
    before = raw_items(lines)
    live = live_states(before)
    monkeypatch.setitem(vonage.STATUSES, "enroute", (Status.SENT, False))  # was unknown: a dead letter
    monkeypatch.setitem(vonage.STATUSES, "failed", (Status.EXPIRED, True))  # ranks below UNDELIVERED
    after = raw_items(lines)
    result = plan(after, live, dead_coordinates(before).__contains__, 0)

    new_key = "vonage:1A0000000F3C2CA0"
    assert [(type(e), e.message_key, e.previous, e.status) for e in result.emitted  # type: ignore[union-attr]
            ] == [(StatusChange, new_key, None, Status.SENT)]
    assert result.emitted[0].id == change_id(new_key, "status", "SENT")
    assert [it.receipt.message_key for it in result.write if it.receipt] == [new_key]
    # the "failed" receipt set the live UNDELIVERED; it means EXPIRED now, which a replay cannot lower
    assert (result.news, result.stale, result.newly_dead) == (1, 1, 0)
    assert result.stale_keys == ["vonage:1A0000000F3C2B8E"]
    assert result.dead == len(lines) - 1 and result.dead_letters == []  # all on dlr.dead-letter already

    # once folded, the same replay changes nothing
    assert plan(after, live_states(after), dead_coordinates(before).__contains__, 0).changed == 0


def receipt(status: Status, t: int = 0, mid: str = "m1", **kw: object) -> Receipt:
    return Receipt(provider="gatewayapi", message_id=mid, status=status, final=RANK[status] >= 50,
                   provider_status=status.value, event_time=T0 + t, **kw)  # type: ignore[arg-type]


def as_item(r: Receipt | None, offset: int, timestamp_ms: int = NOW_MS) -> Item:
    out = steps.Out("x", None, b"")
    return Item("dlr.raw.gatewayapi", 0, offset, timestamp_ms, out, r)


def test_the_plan_folds_in_order_against_the_live_state() -> None:
    live = fold_all([receipt(Status.SENT, mid="a")])[0]
    items = [as_item(receipt(Status.SENT, mid="a"), 0),  # folded already
             as_item(receipt(Status.DELIVERED, 5, mid="a"), 1),  # news
             as_item(receipt(Status.UNDELIVERED, 9, mid="a"), 2),  # below DELIVERED: nothing
             as_item(receipt(Status.ACCEPTED, mid="b", charge_status=ChargeStatus.CAPTURED), 3)]
    result = plan(items, live, lambda _: False, 0)
    assert [(e.message_key, e.previous, getattr(e, "status", None) or e.charge_status)  # type: ignore[union-attr]
            for e in result.emitted] == [("gatewayapi:a", Status.SENT, Status.DELIVERED),
                                         ("gatewayapi:b", None, Status.ACCEPTED),
                                         ("gatewayapi:b", None, ChargeStatus.CAPTURED)]
    assert (result.news, result.stale, result.status_changes, result.charge_changes) == (2, 0, 2, 1)
    assert [it.offset for it in result.write] == [1, 3]


def test_dead_letters_before_and_now() -> None:
    known = {("dlr.raw.gatewayapi", 0, 1)}
    items = [as_item(None, 1), as_item(None, 2), as_item(None, 3, timestamp_ms=NOW_MS - 10)]
    result = plan(items, {}, known.__contains__, NOW_MS - 5)
    assert result.dead == 3
    assert [it.offset for it in result.dead_letters] == [2, 3]  # written: dlr.dead-letter has none for them
    assert result.newly_dead == 1  # offset 3 is older than what dlr.dead-letter still holds: unknown


def test_stale_is_the_same_observation_with_another_meaning() -> None:
    live = fold_all([receipt(Status.UNDELIVERED, error_code="1", error_category=ErrorCategory.GENERIC)])[0]
    same_word_other_category = Receipt("gatewayapi", "m1", Status.UNDELIVERED, True, "UNDELIVERED", T0,
                                       error_code="1", error_category=ErrorCategory.BARRED)
    other_time = receipt(Status.EXPIRED, 7)
    result = plan([as_item(same_word_other_category, 0), as_item(other_time, 1)], live, lambda _: False, 0)
    # BARRED sorts before GENERIC, so the fold keeps GENERIC: stale; EXPIRED at another time is just lower
    assert (result.news, result.stale) == (0, 1)


def test_summary() -> None:
    items = raw_items(samples.all_lines())
    unknown = next(it.coordinates for it in items if it.receipt is None)  # no dead letter for it yet
    result = plan(items, {}, lambda coordinates: coordinates != unknown, 0)
    assert len(result.dead_letters) == 1 and result.dead == len(samples.all_lines())  # one bad line each
    s = summary(result, dry_run=True, folded=None)
    assert s["type"] == "summary" and s["receipts_written"] == 0 and s["dead_letters_written"] == 0
    assert s["changed"] == s["news"] + s["newly_dead"] == len(result.write) + 1 and s["newly_dead"] == 1
    text = summary_text(s)
    assert "--dry-run" in text and "would be emitted" in text and f"status changes would be emitted: " \
        f"{result.status_changes}" in text
    bad = len(samples.all_lines())
    assert f"dead-lettered: {bad} ({bad - 1} already on dlr.dead-letter, 1 would be written)" in text
    real = summary_text(summary(result, dry_run=False, folded=True))
    assert "folded by the workers" in real and "would" not in real
    assert f"dead-lettered: {bad} ({bad - 1} already on dlr.dead-letter, 1 written)" in real
    # per provider: what was read of its raw topic and what became of it
    assert sum(c["read"] for c in s["providers"].values()) == s["read"]
    assert {name: c["dead_lettered"] for name, c in s["providers"].items()} == dict.fromkeys(samples.all_lines(), 1)
    vonage_counts = s["providers"]["vonage"]
    assert (f"  vonage: {vonage_counts['read']} read, {vonage_counts['news']} news, 1 dead-lettered"
            in text.splitlines())
    assert "dead_letters" not in s and "dead letters on" not in text  # only with --dead-letters


# ---- --dead-letters: the raw records a range of dead letters points to ------------------


def letter(stage: str, topic: str, partition: int, offset: int) -> dict[str, object]:
    return {"stage": stage, "source_topic": topic, "source_partition": partition, "source_offset": offset}


def test_select_takes_the_normalize_dead_letters_of_the_chosen_raw_topics_once() -> None:
    smpp, vonage_topic = raw_topic("smpp"), raw_topic("vonage")
    chosen = select([
        letter("normalize", smpp, 1, 7),
        letter("normalize", smpp, 1, 7),  # dead-lettered twice (a batch read again): replayed once
        letter("normalize", smpp, 0, 3),
        None,  # not a DeadLetter record
        letter("fold", smpp, 2, 9),  # a receipt the fold could not take: no mapping changes that
        letter("fold", "dlr-streams-receipts-repartition", 2, 9),
        letter("normalize", vonage_topic, 0, 1),  # --provider smpp
    ], {smpp})
    assert chosen.coordinates == {(smpp, 1, 7), (smpp, 0, 3)}
    assert (chosen.read, chosen.unreadable) == (7, 1)
    assert chosen.skipped == {"stage fold": 2, f"from {vonage_topic}": 1}


def test_source_ranges_read_only_near_the_wanted_offsets_and_name_those_gone() -> None:
    a, b = raw_topic("smpp"), raw_topic("vonage")
    marks = {(a, 0): (100, 5000), (a, 1): (0, 50), (b, 0): (0, 10)}
    wanted = [(a, 0, 120), (a, 0, 110), (a, 0, 130), (a, 0, 4000), (a, 0, 20), (a, 1, 49), (b, 0, 10),
              (b, 3, 1), (a, 0, 110)]
    passes, gone = source_ranges(wanted, marks, max_gap=1000)
    assert passes == [[PartitionRange(a, 0, 110, 131), PartitionRange(a, 1, 49, 50)],  # one range per partition
                      [PartitionRange(a, 0, 4000, 4001)]]  # far away: a second pass, not 3,870 records more
    # offset 20 is below the oldest kept (retention), 10 is not written yet, partition 3 does not exist
    assert gone == [(a, 0, 20), (b, 0, 10), (b, 3, 1)]
    assert source_ranges([], marks) == ([], [])
    read = {(r.topic, r.partition, o) for ranges in passes for r in ranges for o in range(r.start, r.end)}
    assert set(wanted) - set(gone) <= read
    text = gone_text(gone, limit=2)
    assert text == ("3 dead letter(s) point to raw records no longer on their topic (retention): dlr.raw.smpp 0:20, "
                    "dlr.raw.vonage 0:10 and 1 more; not replayed")


def test_a_dead_letter_replay_reports_what_it_read_off_the_dead_letter_topic() -> None:
    items = raw_items({"smpp": [
        b"id:D1 sub:001 dlvrd:001 submit date:2603120900 done date:2603120901 stat:DELIVRD err:000 text:",
        b"id:D2 sub:001 dlvrd:000 submit date:2603120900 done date:2603120901 stat:DND_REJECTED err:000 text:",
    ]})
    coordinates = {it.coordinates for it in items if it.receipt is None}
    assert len(coordinates) == 1
    chosen = select([letter("normalize", *c) for c in coordinates] + [letter("fold", raw_topic("smpp"), 0, 99)],
                    {raw_topic("smpp")})
    chosen.gone = []
    replayed = [it for it in items if it.coordinates in chosen.coordinates]
    result = plan(replayed, {}, chosen.coordinates.__contains__, 0)
    s = summary(result, dry_run=True, folded=None, selection=chosen)
    assert s["dead_letters"] == {"read": 2, "replayed": 1, "skipped": {"stage fold": 1}, "unreadable": 0, "gone": 0}
    assert (s["read"], s["dead_lettered"], s["dead_letters_new"]) == (1, 1, 0)  # still dead: on the topic already
    assert s["providers"] == {"smpp": {"read": 1, "receipts": 0, "news": 0, "dead_lettered": 1}}
    assert ("  from 2 dead letters on dlr.dead-letter: 1 raw records replayed (not replayed: 0 gone, 0 unreadable, "
            "1 stage fold)") in summary_text(s).splitlines()


# ---- progress --------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_redraws_on_a_terminal_and_prints_one_line_elsewhere() -> None:
    for tty in (True, False):
        stream, clock = io.StringIO(), FakeClock()
        bar = Progress("reading", 4, stream, tty=tty, interval=0.2, clock=clock)
        for _ in range(4):
            clock.now += 0.5
            bar.add()
        bar.close()
        text = stream.getvalue()
        assert text.endswith("reading: 4 records in 2.0s (2/s)\n")
        if tty:  # rich's bar, redrawn in place, with rate and time left, then cleared
            assert "\x1b[" in text and "4/4" in text and "2/s" in text and "0:00:01" in text
        else:
            assert text == "reading: 4 records in 2.0s (2/s)\n"


# ---- rebuild: differences and corrections ------------------------------------


def state(status: Status, key: str = "m1", **kw: object) -> MessageState:
    return fold_all([receipt(status, mid=key, **kw)])[0][f"gatewayapi:{key}"]


def test_differences() -> None:
    old = {"gatewayapi:a": state(Status.SENT, "a"), "gatewayapi:b": state(Status.DELIVERED, "b"),
           "gatewayapi:c": state(Status.SENT, "c")}
    new = {"gatewayapi:a": state(Status.SENT, "a"), "gatewayapi:b": state(Status.UNDELIVERED, "b"),
           "gatewayapi:d": state(Status.SENT, "d")}
    diffs = differences(old, new)
    assert [(d.key, d.kind) for d in diffs] == [("gatewayapi:b", "lowered"), ("gatewayapi:c", "gone"),
                                               ("gatewayapi:d", "new")]
    assert diffs[0].fields == ["status", "provider_status"]
    assert diffs[0].to_json() == {"type": "difference", "message_key": "gatewayapi:b", "kind": "lowered",
                                  "old_status": "DELIVERED", "new_status": "UNDELIVERED", "old_charge": None,
                                  "new_charge": None, "fields": ["status", "provider_status"]}


def test_corrections_moves_up_are_ordinary_changes_the_rest_corrections() -> None:
    key = "gatewayapi:m1"
    up = corrections([Difference(key, state(Status.SENT), state(Status.DELIVERED))], 2)
    assert len(up) == 1 and isinstance(up[0], StatusChange) and not is_correction(up[0])
    assert up[0].id == change_id(key, "status", "DELIVERED") and up[0].previous is Status.SENT

    down = corrections([Difference(key, state(Status.DELIVERED), state(Status.UNDELIVERED))], 2)
    assert len(down) == 1 and is_correction(down[0])
    assert (down[0].previous, down[0].status) == (Status.DELIVERED, Status.UNDELIVERED)  # type: ignore[union-attr]
    assert down[0].id == correction_id(key, "status", 2, "UNDELIVERED", True, None, None, None)
    # never an id the fold writes, and another one for another version
    assert down[0].id not in {change_id(key, "status", s.value) for s in Status}
    assert down[0].id != corrections([Difference(key, state(Status.DELIVERED), state(Status.UNDELIVERED))], 3)[0].id

    meaning = corrections([Difference(key, state(Status.UNDELIVERED, error_code="1"),
                                      state(Status.UNDELIVERED, error_code="2"))], 2)
    assert len(meaning) == 1 and is_correction(meaning[0])
    assert meaning[0].previous is meaning[0].status is Status.UNDELIVERED  # type: ignore[union-attr]

    other_time = corrections([Difference(key, state(Status.SENT), state(Status.SENT, t=5))], 2)
    assert other_time == []  # nothing a consumer of the change topics sees

    new = corrections([Difference(key, None, state(Status.SENT, charge_status=ChargeStatus.AUTHORIZED))], 2)
    assert [(type(e), e.previous, e.id) for e in new] == [
        (StatusChange, None, change_id(key, "status", "SENT")),
        (ChargeChange, None, change_id(key, "charge", "AUTHORIZED"))]
    assert corrections([Difference(key, state(Status.SENT), None)], 2) == []  # gone: only reported


def test_charge_corrections() -> None:
    key = "gatewayapi:m1"
    captured = state(Status.DELIVERED, charge_status=ChargeStatus.CAPTURED)
    failed = state(Status.DELIVERED, charge_status=ChargeStatus.FAILED)
    refunded = state(Status.DELIVERED, charge_status=ChargeStatus.REFUNDED)
    down = corrections([Difference(key, captured, failed)], 2)
    assert len(down) == 1 and isinstance(down[0], ChargeChange) and is_correction(down[0])
    assert (down[0].previous, down[0].charge_status, down[0].notification) == (
        ChargeStatus.CAPTURED, ChargeStatus.FAILED, False)
    up = corrections([Difference(key, captured, refunded)], 2)
    assert [(e.id, is_correction(e)) for e in up] == [(change_id(key, "charge", "REFUNDED"), False)]
    refund_fail = state(Status.DELIVERED, charge_status=ChargeStatus.REFUND_FAIL)
    notice = corrections([Difference(key, captured, refund_fail)], 2)
    assert [(e.charge_status, e.notification, is_correction(e)) for e in notice] == [  # type: ignore[union-attr]
        (ChargeStatus.REFUND_FAIL, True, False)]


def test_carry_over_keeps_states_whose_raw_receipts_may_be_gone() -> None:
    edge_ms = (T0 + 10 * 86_400_000_000) // 1000
    old = {"gatewayapi:old": state(Status.DELIVERED, "old"),  # before the edge
           "gatewayapi:near": state(Status.DELIVERED, "near", t=10 * 86_400_000_000 + HISTORY_MARGIN_US - 1),
           "gatewayapi:young": state(Status.DELIVERED, "young", t=10 * 86_400_000_000 + HISTORY_MARGIN_US)}
    new = {"gatewayapi:near": state(Status.SENT, "near"), "gatewayapi:young": state(Status.SENT, "young")}
    assert carry_over(old, new, {"vonage": edge_ms}) == 0  # another provider's edge
    assert carry_over(old, new, {"gatewayapi": edge_ms}) == 2
    assert new["gatewayapi:old"] == old["gatewayapi:old"] and new["gatewayapi:near"] == old["gatewayapi:near"]
    assert new["gatewayapi:young"].status is Status.SENT


def test_rebuild_summary_text() -> None:
    diffs = differences({"gatewayapi:b": state(Status.DELIVERED, "b")}, {"gatewayapi:b": state(Status.SENT, "b")})
    o = Outcome(1, 2, resumed=False, finish=False, dry_run=False, read=3, receipts=3, states=1, written=1,
                emitted=corrections(diffs, 2), diffs=diffs)
    text = rebuild_summary_text(o, "host:9092")
    assert "gatewayapi:b: DELIVERED -> SENT" in text and "1 lowered" in text
    assert "`--finish` would write, as of now: 1 status, 0 charge, 1 of them corrections" in text
    assert "dlr rebuild --broker host:9092 --from-version 1 --version 2 --finish" in text
    assert "DLR_STATE_VERSION=2" in text
    o.finish = True
    assert "DLR_STATE_VERSION=2 dlr worker --broker host:9092" in rebuild_summary_text(o, "host:9092")
    assert o.to_json()["corrections"] == 1 and progress_group(2) == "dlr-streams-rebuild-v2"


# ---- the consumer convention ---------------------------------------------------


class BillingConsumer:
    """A consumer of the change topics that follows docs/replay.md: drop a
    repeated id; keep the higher-ranked value of ordinary changes; a
    correction sets the value and forgets the ids seen for its message."""

    def __init__(self) -> None:
        self.status: dict[str, Status] = {}
        self.charge: dict[str, ChargeStatus] = {}
        self.seen: dict[str, set[str]] = {}

    def apply(self, changes: Iterable[Emitted]) -> None:
        for c in changes:
            seen = self.seen.setdefault(c.message_key, set())
            if c.id in seen:
                continue
            if is_correction(c):
                seen.clear()
            seen.add(c.id)
            if isinstance(c, StatusChange):
                current = self.status.get(c.message_key)
                if is_correction(c) or current is None or RANK[c.status] > RANK[current]:
                    self.status[c.message_key] = c.status
            elif not c.notification:
                current_charge = self.charge.get(c.message_key)
                if (is_correction(c) or current_charge is None
                        or CHARGE_RANK[c.charge_status] > CHARGE_RANK[current_charge]):
                    self.charge[c.message_key] = c.charge_status


status_receipts = st.builds(
    receipt, status=st.sampled_from(list(Status)), t=st.integers(0, 3), mid=st.sampled_from(["a", "b", "c"]),
    charge_status=st.sampled_from([None, *ChargeStatus]), error_code=st.sampled_from([None, "1", "2"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(status_receipts, max_size=10), st.lists(status_receipts, max_size=6), st.randoms(use_true_random=False))
def test_corrections_bring_a_consumer_to_the_rebuilt_states_and_later_changes_keep_it_there(
        history: list[Receipt], later: list[Receipt], rnd: random.Random) -> None:
    # a mapping change: some words mean another status or charge now
    statuses, charges = list(Status), [c for c in ChargeStatus if c is not ChargeStatus.REFUND_FAIL]
    remap = {s: rnd.choice(statuses) if rnd.random() < 0.4 else s for s in statuses}
    recharge = {c: rnd.choice(charges) if rnd.random() < 0.3 else c for c in charges}

    def remapped(r: Receipt) -> Receipt:
        charge = r.charge_status if r.charge_status in (None, ChargeStatus.REFUND_FAIL) else recharge[r.charge_status]
        return Receipt(r.provider, r.message_id, remap[r.status], r.final, r.provider_status, r.event_time,
                       r.error_code, r.error_category, r.retryable, charge)

    old, old_emitted = fold_all(history)
    new, _ = fold_all([remapped(r) for r in history])
    consumer = BillingConsumer()
    consumer.apply(old_emitted)
    fixes = corrections(differences(old, new), 2)
    assert not any(is_correction(e) for e in old_emitted)  # the fold never writes a correction
    consumer.apply(fixes)
    consumer.apply(fixes)  # delivered twice: nothing changes
    for key, s in new.items():
        assert consumer.status[key] is s.status
        if s.charge_status is not None:
            assert consumer.charge[key] is s.charge_status

    # then the new version's workers go on folding (the new mapping), with ordinary ids
    states = dict(new)
    for r in later:
        states[r.message_key], emitted = fold(states.get(r.message_key), remapped(r))
        consumer.apply(emitted)
    for key, s in states.items():
        assert consumer.status[key] is s.status
        if s.charge_status is not None:
            assert consumer.charge[key] is s.charge_status
