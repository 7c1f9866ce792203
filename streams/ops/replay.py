"""`dlr replay`: re-read a range of the raw topics and feed those receipts
through the current normalizer and fold again (docs/replay.md).

How it works: the chosen range is read with a plain consumer (no group,
`streams.kafka.clients.read_raw`) and every record is normalized with
`steps.normalize_raw`, the worker's own code, which keeps the receipt it
encodes. The resulting receipts are folded, here, into the live states read
from the state table's changelog: that says, per receipt, whether it is news
to the live state, and exactly which changes the fold will emit. The receipts
that are news are then written to the fold agent's input topic (`FOLD_INPUT`)
on the partition the worker's producer would pick (murmur2 of the message
key), where the live fold agent folds them and emits the changes, and to
dlr.receipts, as the worker writes every receipt it normalizes; the command
waits until the workers' consumer group has committed past them. Receipts the
live state already absorbs are not written: the fold is a join over the set of
receipts, so folding them again can change nothing (that is also why
replaying a day that was processed emits nothing).

With `--dead-letters` the raw records are not a range but those a time range
of dead letters points to: each dead letter of a stage that normalization
decides (`REPLAYABLE_STAGES`) names its raw record (source_topic,
source_partition, source_offset), and exactly those records are read and go
the same way. This is the runbook after a mapping fix (docs/operators.md):
add the mapping, restart the workers, replay the dead letters.

The parse options are the workers' (`settings.parse_options`: the provider
zones and the mapping file, DLR_MAPPINGS or --mappings), so a replay reads a
receipt as a worker started now would.

The module has two halves: pure functions (range and time parsing, the
selection of dead letters, the plan, the summary, the progress line) that the
unit tests cover, and the Kafka I/O of replay alone; the client helpers it
shares with `dlr rebuild` are in streams.kafka.clients.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import rich.console
import rich.progress
import rich.text

from streams.core import records
from streams.core.fold import Emitted, fold
from streams.core.mappings import MappingError
from streams.core.model import MessageState, Receipt, ReceiptError, StatusChange, parse_iso
from streams.kafka.clients import (
    PartitionRange,
    RawRecord,
    Writer,
    all_of,
    consumer,
    group_consumer,
    partitions,
    partitions_count,
    read,
    read_raw,
    read_states,
    watermarks,
)
from streams.serde import encoders
from streams.serde.registry import RegistryError, decode_any
from streams.topics import APP_ID, DEAD_LETTER, RAW_PREFIX, RECEIPTS, REPARTITION, partition_for
from streams.worker import steps

# The topic the workers' fold agent reads (see streams/worker/app.py): receipts
# there are folded into the state of their key's partition. The one place to
# change if the agents are wired otherwise.
FOLD_INPUT = REPARTITION

# --------------------------------------------------------------------------
# Pure parts
# --------------------------------------------------------------------------

_RELATIVE = re.compile(r"-\s*(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_time(text: str, now_ms: int) -> int:
    """A time for --from/--to as Kafka timestamp milliseconds: ISO-8601 (a date
    alone is midnight; no zone is UTC), `now`, or relative to now: -90s, -15m,
    -2h, -1d."""
    value = text.strip()
    if value == "now":
        return now_ms
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now_ms - round(float(relative.group(1)) * _UNIT_MS[relative.group(2)])
    try:
        return parse_iso(value) // 1000
    except ValueError:
        raise ValueError(f"not a time: {text!r} (ISO-8601 like 2026-03-12 or 2026-03-12T09:00:00Z, "
                         "now, or relative like --from=-2h, -30m, -1d)") from None


ALL_PARTITIONS = -1


def parse_offsets(text: str) -> dict[int, int]:
    """`O` (every partition) or `P:O[,P:O...]`, as {partition: offset};
    ALL_PARTITIONS stands for every partition."""
    out: dict[int, int] = {}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("empty offset list")
    for item in items:
        partition_text, sep, offset_text = item.rpartition(":")
        try:
            partition = int(partition_text) if sep else ALL_PARTITIONS
            offset = int(offset_text)
        except ValueError:
            raise ValueError(f"not an offset: {item!r} (expected O or P:O)") from None
        if offset < 0 or (sep and partition < 0):
            raise ValueError(f"negative partition or offset in {item!r}")
        if partition in out or (ALL_PARTITIONS in out and len(items) > 1):
            raise ValueError(f"offset list {text!r}: give one O, or P:O once per partition")
        out[partition] = offset
    return out


def offset_for(spec: Mapping[int, int] | None, partition: int) -> int | None:
    """The offset a spec names for a partition (None: the spec names none)."""
    if spec is None:
        return None
    return spec.get(ALL_PARTITIONS, spec.get(partition))


def clip(low: int, high: int, start: int | None, end: int | None) -> tuple[int, int]:
    """[start, end) inside the partition's [low, high); None is the edge."""
    first = low if start is None else max(low, min(start, high))
    last = high if end is None else max(first, min(end, high))
    return first, last


def offset_ranges(topic: str, marks: Mapping[int, tuple[int, int]], start: Mapping[int, int] | None,
                  end: Mapping[int, int] | None) -> list[PartitionRange]:
    """Ranges for --from-offset/--to-offset. A partition a P:O --from-offset
    does not name is not read; one --to-offset does not name is read to its end."""
    out = []
    for partition, (low, high) in sorted(marks.items()):
        first = offset_for(start, partition)
        if start is not None and first is None:
            continue
        s, e = clip(low, high, first, offset_for(end, partition))
        out.append(PartitionRange(topic, partition, s, e))
    return out


def time_ranges(topic: str, marks: Mapping[int, tuple[int, int]], start: Mapping[int, int],
                end: Mapping[int, int] | None) -> list[PartitionRange]:
    """Ranges for --from/--to, given what offsets_for_times answered per
    partition: the first offset at or after the time, -1 for none (the end)."""
    out = []
    for partition, (low, high) in sorted(marks.items()):
        first = start.get(partition, -1)
        last = -1 if end is None else end.get(partition, -1)
        s, e = clip(low, high, high if first < 0 else first, high if last < 0 else last)
        out.append(PartitionRange(topic, partition, s, e))
    return out


# --- --dead-letters: which raw records a range of dead letters points to ---

Coordinates = tuple[str, int, int]  # raw topic, partition, offset

# The stages whose dead letters a replay can turn into receipts: those written
# when normalizing a raw record failed (streams.worker.steps.normalize_receipts).
# A fold-stage dead letter is a receipt the fold could not take or a stored
# state it could not read: no mapping changes that, and its source may be the
# repartition topic, which is not a raw topic.
REPLAYABLE_STAGES = frozenset({"normalize"})

# Raw offsets of one partition further apart than this are read in separate
# passes rather than as one range: dead letters are sparse, and reading a day
# of traffic to reach three records is slower than assigning again.
MAX_GAP = 10_000


@dataclass
class Selection:
    """The dead letters read and what becomes of them: `coordinates` the raw
    records to replay (each once, however often it was dead-lettered)."""

    read: int = 0
    unreadable: int = 0  # not a DeadLetter record
    skipped: Counter[str] = field(default_factory=Counter)  # why not replayed: "stage fold", "dlr.raw.x not chosen"
    coordinates: set[Coordinates] = field(default_factory=set)
    gone: list[Coordinates] = field(default_factory=list)  # raw records retention removed, set by source_ranges


def select(dead_letters: Iterable[Mapping[str, Any] | None], topics: Collection[str]) -> Selection:
    """The raw records behind dead letters (decoded DeadLetter records, None
    for one that did not decode): those of a replayable stage whose source is
    one of the raw `topics`."""
    out = Selection()
    for letter in dead_letters:
        out.read += 1
        if letter is None:
            out.unreadable += 1
        elif letter["stage"] not in REPLAYABLE_STAGES:
            out.skipped[f"stage {letter['stage']}"] += 1
        elif letter["source_topic"] not in topics:
            out.skipped[f"from {letter['source_topic']}"] += 1
        else:
            out.coordinates.add((letter["source_topic"], letter["source_partition"], letter["source_offset"]))
    return out


def source_ranges(coordinates: Iterable[Coordinates], marks: Mapping[tuple[str, int], tuple[int, int]],
                  max_gap: int = MAX_GAP) -> tuple[list[list[PartitionRange]], list[Coordinates]]:
    """(passes, gone). Each pass holds at most one range per partition (a
    consumer is assigned a partition once), covering runs of the wanted
    offsets no more than `max_gap` apart; `gone` are the coordinates outside
    their partition's watermarks (low, high) (retention took them), or on a
    partition with none (its topic is gone), in order."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    gone: list[Coordinates] = []
    for topic, partition, offset in sorted(set(coordinates)):
        low, high = marks.get((topic, partition), (0, 0))
        if low <= offset < high:
            by_partition.setdefault((topic, partition), []).append(offset)
        else:
            gone.append((topic, partition, offset))
    runs: dict[tuple[str, int], list[PartitionRange]] = {}
    for (topic, partition), offsets in by_partition.items():
        found = runs[(topic, partition)] = [PartitionRange(topic, partition, offsets[0], offsets[0] + 1)]
        for offset in offsets[1:]:
            last = found[-1]
            if offset - last.end >= max_gap:
                found.append(PartitionRange(topic, partition, offset, offset + 1))
            else:
                found[-1] = PartitionRange(topic, partition, last.start, offset + 1)
    passes = [[r[i] for r in runs.values() if i < len(r)] for i in range(max((len(r) for r in runs.values()),
                                                                               default=0))]
    return passes, gone


def gone_text(gone: list[Coordinates], limit: int = 10) -> str:
    """The dead letters whose raw records a replay cannot read, for stderr."""
    shown = ", ".join(f"{t} {p}:{o}" for t, p, o in gone[:limit])
    more = f" and {len(gone) - limit} more" if len(gone) > limit else ""
    return (f"{len(gone)} dead letter(s) point to raw records no longer on their topic (retention): "
            f"{shown}{more}; not replayed")


# One raw record read, and what the current code makes of it.
Item = steps.NormalizedRecord


def _same_observation_other_meaning(state: MessageState, r: Receipt) -> bool:
    """The receipt that set the state's status, read under another mapping: same
    provider word, time and code, another status or error meaning."""
    return (r.provider_status == state.provider_status and r.event_time == state.event_time
            and r.error_code == state.error_code
            and (r.status, r.final, r.error_category, r.retryable)
            != (state.status, state.final, state.error_category, state.retryable))


@dataclass
class Plan:
    """What a replay does. `read` counts raw records, `receipts` and `dead`
    their reports (a batch post holds several). `write` holds the receipts
    that are news, in read order; `dead_letters` the dead letters not on
    dlr.dead-letter yet."""

    read: int = 0
    receipts: int = 0
    news: int = 0  # receipts that change the live state: their mapping differs from what was folded
    stale: int = 0  # receipts the live state holds under another meaning, which a replay cannot lower
    newly_dead: int = 0  # receipts before, dead letters now
    dead: int = 0
    emitted: list[Emitted] = field(default_factory=list)
    write: list[Item] = field(default_factory=list)
    dead_letters: list[Item] = field(default_factory=list)
    stale_keys: list[str] = field(default_factory=list)
    # per provider: records read, receipts, news, dead-lettered
    providers: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, it: Item, what: str) -> None:
        provider = it.topic.removeprefix(RAW_PREFIX)
        self.providers.setdefault(provider, Counter())[what] += 1

    @property
    def changed(self) -> int:
        return self.news + self.stale + self.newly_dead

    @property
    def status_changes(self) -> int:
        return sum(isinstance(e, StatusChange) for e in self.emitted)

    @property
    def charge_changes(self) -> int:
        return len(self.emitted) - self.status_changes


def plan(items: Iterable[Item], live: Mapping[str, MessageState],
         dead_letter_at: Callable[[tuple[str, int, int]], bool], dead_letter_horizon_ms: int) -> Plan:
    """Fold the items, in order, into the live states.

    A receipt "maps differently than before" when
    - folding it changes the live state (news: the receipt that was folded from
      this raw record, if any, was another one, or it was a dead letter), or
    - the live state's status was set by this very observation (same provider
      word, time and error code) with another status or error meaning: the
      mapping changed in a way the monotone fold cannot apply (stale; `dlr
      rebuild` corrects it), or
    - it is a dead letter now and dlr.dead-letter has none for its raw record,
      which is only known for records younger than the dead-letter topic's
      oldest retained record (`dead_letter_horizon_ms`).
    """
    result = Plan()
    states: dict[str, MessageState] = {}
    record: tuple[str, int, int] | None = None
    for it in items:
        if it.coordinates != record:  # the reports of one raw record come one after another
            record = it.coordinates
            result.read += 1
            result.count(it, "read")
        r = it.receipt
        if r is None:
            result.dead += 1
            result.count(it, "dead_lettered")
            if not dead_letter_at(it.coordinates):
                result.dead_letters.append(it)
                if it.timestamp_ms >= dead_letter_horizon_ms:
                    result.newly_dead += 1
            continue
        result.receipts += 1
        result.count(it, "receipts")
        key = r.message_key
        state = states[key] if key in states else live.get(key)
        new, emitted = fold(state, r)
        if new != state:
            result.news += 1
            result.count(it, "news")
            result.write.append(it)
            result.emitted.extend(emitted)
            states[key] = new
        elif state is not None and _same_observation_other_meaning(state, r):
            result.stale += 1
            result.stale_keys.append(key)
    return result


_PROVIDER_COUNTS = ("read", "receipts", "news", "dead_lettered")


def summary(p: Plan, dry_run: bool, folded: bool | None, selection: Selection | None = None) -> dict[str, Any]:
    """The summary line's fields; `dead_letters` (what was read off
    dlr.dead-letter) only with --dead-letters."""
    out = {
        "type": "summary", "dry_run": dry_run, "read": p.read, "receipts": p.receipts,
        "changed": p.changed, "news": p.news, "stale": p.stale, "newly_dead": p.newly_dead,
        "status_changes": p.status_changes, "charge_changes": p.charge_changes,
        "dead_lettered": p.dead, "dead_letters_new": len(p.dead_letters),
        "dead_letters_written": 0 if dry_run else len(p.dead_letters),
        "receipts_written": 0 if dry_run else len(p.write), "folded": folded,
        "providers": {name: {k: counts[k] for k in _PROVIDER_COUNTS} for name, counts in sorted(p.providers.items())},
    }
    if selection is not None:
        out["dead_letters"] = {
            "read": selection.read, "replayed": len(selection.coordinates) - len(selection.gone),
            "skipped": dict(sorted(selection.skipped.items())), "unreadable": selection.unreadable,
            "gone": len(selection.gone),
        }
    return out


def summary_text(s: Mapping[str, Any]) -> str:
    would = "would be " if s["dry_run"] else ""
    lines = [
        f"dlr replay{' --dry-run' if s['dry_run'] else ''}: {s['read']} records read, {s['receipts']} receipts",
        f"  map differently than before: {s['changed']} (news to the live state: {s['news']}, "
        f"stale in the live state: {s['stale']}, now dead-lettered: {s['newly_dead']})",
        f"  status changes {would}emitted: {s['status_changes']}, charge changes {would}emitted: "
        f"{s['charge_changes']}",
        f"  dead-lettered: {s['dead_lettered']} ({s['dead_lettered'] - s['dead_letters_new']} already on "
        f"{DEAD_LETTER}, {s['dead_letters_new']} {would or ''}written)",
    ]
    for name, counts in s.get("providers", {}).items():
        lines.append(f"  {name}: {counts['read']} read, {counts['news']} news, {counts['dead_lettered']} "
                     "dead-lettered")
    letters = s.get("dead_letters")
    if letters is not None:
        skipped = "".join(f", {n} {why}" for why, n in letters["skipped"].items())
        lines.insert(1, f"  from {letters['read']} dead letters on {DEAD_LETTER}: {letters['replayed']} raw records "
                        f"replayed (not replayed: {letters['gone']} gone, {letters['unreadable']} unreadable"
                        f"{skipped})")
    if not s["dry_run"]:
        state = {True: "folded by the workers", False: "NOT yet folded: are the workers running?",
                 None: "nothing to fold"}[s["folded"]]
        lines.append(f"  receipts written to {RECEIPTS} and the fold: {s['receipts_written']} ({state})")
    if s["stale"]:
        lines.append(f"  {s['stale']} receipt(s) mean something else now than in the live state and a replay "
                     "cannot lower a status: see `dlr rebuild --dry-run`")
    return "\n".join(lines)


class Progress:
    """A progress bar on stderr: rich's, with rate and time left, on a
    terminal; elsewhere (logs, CI) only the final summary line, which a
    terminal also gets once the bar is gone."""

    def __init__(self, what: str, total: int, stream: IO[str] | None = None, tty: bool | None = None,
                 interval: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.total, self.done = what, total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval, self.clock = interval, clock
        self.started = self._drawn = clock()
        self._bar: rich.progress.Progress | None = None
        if self.tty:
            self._bar = rich.progress.Progress(
                rich.progress.TextColumn("{task.description}"), rich.progress.BarColumn(),
                rich.progress.TaskProgressColumn(), rich.progress.MofNCompleteColumn(),
                rich.progress.TextColumn("records"), _RateColumn(), rich.progress.TimeRemainingColumn(),
                console=rich.console.Console(file=self.stream, force_terminal=True),
                auto_refresh=False, transient=True, get_time=clock)
            self._task = self._bar.add_task(what, total=total)
            self._bar.start()

    def add(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.advance(self._task, n)
            if self.clock() - self._drawn >= self.interval:
                self._drawn = self.clock()
                self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        self.stream.write(f"{self.what}: {self.done} records in {elapsed:.1f}s ({rate:,.0f}/s)\n")
        self.stream.flush()


class _RateColumn(rich.progress.ProgressColumn):
    def render(self, task: rich.progress.Task) -> rich.text.Text:
        return rich.text.Text(f"{task.speed or 0:,.0f}/s")


# --------------------------------------------------------------------------
# Kafka I/O
# --------------------------------------------------------------------------


def read_dead_letter_index(bootstrap: str, topics: set[str]) -> tuple[set[tuple[str, int, int]], int]:
    """Where the dead letters on dlr.dead-letter came from (raw topic, partition,
    offset), and the horizon: the time before which the topic has lost records
    to retention (0 when it has lost none)."""
    client = consumer(bootstrap)
    seen: set[tuple[str, int, int]] = set()
    first: dict[int, int] = {}
    try:
        ranges = all_of(client, DEAD_LETTER)
        lossy = {r.partition for r in ranges if r.start > 0}

        def keep(message: Any) -> None:
            if message.partition() in lossy and message.partition() not in first:
                first[message.partition()] = message.timestamp()[1]
            try:
                _, record = decode_any(message.value() or b"", "DeadLetter")
            except ReceiptError:
                return
            if record["source_topic"] in topics:
                seen.add((record["source_topic"], record["source_partition"], record["source_offset"]))

        read(client, ranges, keep)
    finally:
        client.close()
    horizon = max(first.values(), default=0)
    if lossy and not first:  # the lossy partitions are empty now: everything before now is unknown
        horizon = int(time.time() * 1000)
    return seen, horizon


def select_dead_letters(client: Any, request: Request, topics: list[str], err: IO[str]) -> Selection:
    """The dead letters written in the request's time range, and the raw
    records of `topics` they point to."""
    letters: list[Mapping[str, Any] | None] = []
    ranges = _ranges(client, request, [DEAD_LETTER])
    bar = Progress("dead letters", sum(r.size for r in ranges), err)

    def keep(message: Any) -> None:
        try:
            letters.append(decode_any(message.value() or b"", "DeadLetter")[1])
        except ReceiptError:
            letters.append(None)
        bar.add()

    read(client, ranges, keep)
    bar.close()
    return select(letters, set(topics))


def raw_marks(client: Any, topics: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """The watermarks of every partition of the raw topics (none for a topic that is gone)."""
    out: dict[tuple[str, int], tuple[int, int]] = {}
    for topic in topics:
        parts = partitions(client, topic)
        if parts is not None:
            out.update({(topic, p): marks for p, marks in watermarks(client, topic, parts).items()})
    return out


def wait_folded(bootstrap: str, written: Mapping[int, int], timeout: float) -> bool:
    """Until the workers' consumer group has committed past `written`
    ({FOLD_INPUT partition: last offset written}): the fold agent has folded
    those receipts and flushed what they emit."""
    from confluent_kafka import TopicPartition

    if not written:
        return True
    client = group_consumer(bootstrap, APP_ID)
    deadline = time.monotonic() + timeout
    try:
        while True:
            committed = client.committed([TopicPartition(FOLD_INPUT, p) for p in written], timeout=10)
            if all(tp.offset > written[tp.partition] for tp in committed):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class Request:
    bootstrap: str
    providers: list[str]
    state_version: int
    from_time: str | None = None
    to_time: str | None = None
    from_offset: str | None = None
    to_offset: str | None = None
    dry_run: bool = False
    wait: float = 60.0
    dead_letters: bool = False  # the range is of dlr.dead-letter; replay the raw records it points to
    mappings: str | None = None  # the mapping file (None: DLR_MAPPINGS)


def check(request: Request, all_providers: bool) -> None:
    """The combinations of range options that mean something; a ValueError says why not."""
    by_time = request.from_time is not None or request.to_time is not None
    by_offset = request.from_offset is not None or request.to_offset is not None
    if request.dead_letters and by_offset:
        raise ValueError("--dead-letters takes the dead letters' time range (--from/--to), not offsets")
    if request.dead_letters and request.from_time is None:
        raise ValueError(f"--dead-letters needs --from TIME: when the dead letters were written ({DEAD_LETTER} "
                         "keeps 30 days: --from=-30d is all of it)")
    if by_time and by_offset:
        raise ValueError("give a time range (--from/--to) or an offset range (--from-offset/--to-offset), not both")
    if not by_time and not by_offset:
        raise ValueError("give --from TIME (and --to TIME) or --from-offset (and --to-offset)")
    if by_time and request.from_time is None:
        raise ValueError("--to needs --from")
    if by_offset and request.from_offset is None:
        raise ValueError("--to-offset needs --from-offset")
    if all_providers:
        for name, text in (("--from-offset", request.from_offset), ("--to-offset", request.to_offset)):
            if text is not None and ALL_PARTITIONS not in parse_offsets(text):
                raise ValueError(f"{name} P:O names offsets of one raw topic: give --provider")
    if request.wait < 0:
        raise ValueError("--wait must not be negative")
    for text in (request.from_time, request.to_time):
        if text is not None:
            parse_time(text, 0)
    for text in (request.from_offset, request.to_offset):
        if text is not None:
            parse_offsets(text)


def _ranges(client: Any, request: Request, topics: list[str]) -> list[PartitionRange]:
    from confluent_kafka import TopicPartition

    now_ms = int(time.time() * 1000)
    start_ms = parse_time(request.from_time, now_ms) if request.from_time else None
    end_ms = parse_time(request.to_time, now_ms) if request.to_time else None
    start_offsets = parse_offsets(request.from_offset) if request.from_offset else None
    end_offsets = parse_offsets(request.to_offset) if request.to_offset else None
    out: list[PartitionRange] = []
    for topic in topics:
        parts = partitions(client, topic)
        if parts is None:
            continue
        marks = watermarks(client, topic, parts)
        if start_ms is None:
            out += offset_ranges(topic, marks, start_offsets, end_offsets)
            continue

        def lookup(ms: int, parts: list[int] = parts, topic: str = topic) -> dict[int, int]:
            answer = client.offsets_for_times([TopicPartition(topic, p, ms) for p in parts], timeout=30)
            return {tp.partition: tp.offset for tp in answer}

        out += time_ranges(topic, marks, lookup(start_ms), None if end_ms is None else lookup(end_ms))
    return out


def replay(request: Request, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Exit status: 0 done (or dry run), 1 a write failed, 2 written but not
    folded within --wait, 64 bad options (e.g. no changelog for that state
    version, a schema registry that cannot be reached)."""
    from streams import settings
    from streams.topics import changelog, raw_topic

    out = out or sys.stdout
    err = err or sys.stderr
    try:  # with DLR_SCHEMA_REGISTRY_URL: registered now, not in the middle of the range
        encoders.in_use()
    except RegistryError as exc:
        err.write(f"dlr replay: schema registry: {' '.join(str(exc).split())}\n")
        return 64
    try:  # the workers' parse options: a bad mapping file stops the replay before it reads
        options = settings.parse_options(mappings_path=request.mappings)
    except MappingError as exc:
        err.write(f"dlr replay: {exc}\n")
        return 64
    topics = [raw_topic(p) for p in request.providers]
    selection: Selection | None = None
    client = consumer(request.bootstrap)
    try:
        if request.dead_letters:
            selection = select_dead_letters(client, request, topics, err)
            passes, selection.gone = source_ranges(selection.coordinates, raw_marks(client, topics))
            if selection.gone:
                err.write(f"dlr replay: {gone_text(selection.gone)}\n")
        else:
            passes = [_ranges(client, request, topics)]
        wanted = selection.coordinates if selection is not None else None
        items: list[Item] = []
        bar = Progress("reading", sum(r.size for ranges in passes for r in ranges), err)

        def normalize(record: RawRecord) -> None:
            if wanted is None or (record.topic, record.partition, record.offset) in wanted:
                items.extend(steps.normalize_raw(record, options))
            bar.add()

        for ranges in passes:
            read_raw(client, ranges, normalize)
        bar.close()
    finally:
        client.close()

    keys = {it.receipt.message_key.encode() for it in items if it.receipt is not None}
    try:
        live = read_states(request.bootstrap, changelog(request.state_version), keys.__contains__) if keys else {}
    except RuntimeError as exc:
        err.write(f"dlr replay: {exc}\n")
        return 64
    if selection is not None:  # what is dead now was read off dlr.dead-letter: nothing to write there again
        dead_index, horizon = selection.coordinates, 0
    elif any(it.receipt is None for it in items):
        dead_index, horizon = read_dead_letter_index(request.bootstrap, set(topics))
    else:
        dead_index, horizon = set(), 0
    result = plan(items, live, dead_index.__contains__, horizon)
    for emitted in result.emitted:
        out.write(json.dumps(records.to_json(emitted), ensure_ascii=False, separators=(",", ":")) + "\n")

    folded: bool | None = None
    failed = False
    if not request.dry_run and (result.write or result.dead_letters):
        try:
            counts = {t: partitions_count(request.bootstrap, t) for t in (FOLD_INPUT, RECEIPTS, DEAD_LETTER)}
        except RuntimeError as exc:
            err.write(f"dlr replay: {exc} (start a worker of this version once: it creates its topics)\n")
            return 64
        writer = Writer(request.bootstrap)
        bar = Progress("writing", len(result.write) + len(result.dead_letters), err)
        for it in result.write:
            key = it.out.key or b""
            for topic in (RECEIPTS, FOLD_INPUT):
                writer.send(topic, partition_for(key, counts[topic]), key, it.out.value)
            bar.add()
        dead_count = counts[DEAD_LETTER]
        for it in result.dead_letters:
            source_key = it.out.key  # the worker keys a dead letter by its raw record's key
            writer.send(DEAD_LETTER,
                        partition_for(source_key, dead_count) if source_key else it.partition % dead_count,
                        source_key, it.out.value)
            bar.add()
        writer.flush()
        bar.close()
        failed = bool(writer.errors)
        for error in writer.errors[:5]:
            err.write(f"dlr replay: write failed: {error}\n")
        written = {p: offset for (topic, p), offset in writer.last.items() if topic == FOLD_INPUT}
        if written and not failed:
            folded = wait_folded(request.bootstrap, written, request.wait)
    s = summary(result, request.dry_run, folded, selection)
    out.write(json.dumps(s, separators=(",", ":")) + "\n")
    out.flush()
    err.write(summary_text(s) + "\n")
    if failed:
        return 1
    return 2 if folded is False else 0

