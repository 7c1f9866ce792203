"""`dlr rebuild`: every message state recomputed from the raw topics, from
scratch, into a new state table version (docs/replay.md).

Two steps, so that the workers keep running through the long part:
1. `dlr rebuild` (workers running): reads every raw topic from the beginning,
   normalizes with the current code and folds offline into version M. The
   states go to M's changelog topic, on the partition the fold agent would
   use, which is what a worker recovers a table from. How far it read is
   committed as the offsets of the group `dlr-streams-rebuild-vM`, so a second
   run only reads what arrived since. Nothing reaches the change topics yet;
   the differences from the live version N are listed for review.
2. `dlr rebuild --finish` (workers stopped): catches up the same way, then
   compares with N's final states and writes, once, what moves each consumer
   from N's view to M's: corrections, with deterministic ids. Then the workers
   start with DLR_STATE_VERSION=M. Without step 1, `--finish` does it all.

Records are read and normalized as `dlr replay` does (streams.kafka.clients,
`steps.normalize_raw`) and folded with the offline fold driver
(`fold.fold_into`); corrections are built by the fold's own change-record
builders. The pure parts (differences, corrections, the retention rule) are
separate from the Kafka I/O and unit-tested.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import IO, Any

from streams.core import records
from streams.core.fold import ID_NAMESPACE, Emitted, change_id, charge_change, fold_into, status_change
from streams.core.model import (
    CHARGE_RANK,
    RANK,
    ChargeChange,
    ChargeStatus,
    MessageState,
    StatusChange,
)
from streams.kafka.clients import (
    PartitionRange,
    RawRecord,
    Writer,
    all_of,
    commit_ends,
    committed,
    consumer,
    partitions_count,
    read_raw,
    read_states,
)
from streams.ops.replay import Progress
from streams.serde.registry import encoder_for
from streams.topics import APP_ID, CHARGE_CHANGES, RAW_PREFIX, RECEIPTS, STATUS_CHANGES, partition_for

# A message's receipts arrive within about three days (Vonage gives up after
# 72 h): a message whose state is younger than the oldest retained raw record
# plus this has all its receipts in the raw topics.
HISTORY_MARGIN_US = 3 * 86_400 * 1_000_000

# What a StatusChange says beyond the status; a difference here is a correction too.
STATUS_MEANING = ("status", "final", "error_code", "error_category", "retryable")

# --------------------------------------------------------------------------
# Pure parts
# --------------------------------------------------------------------------


def progress_group(version: int) -> str:
    """The consumer group whose committed offsets say how far the rebuild of
    `version` has read each raw partition (it never joins: offsets only)."""
    return f"{APP_ID}-rebuild-v{version}"


@dataclass(frozen=True, slots=True)
class Difference:
    key: str
    old: MessageState | None
    new: MessageState | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "new"
        if self.new is None:
            return "gone"
        if self.new.status is not self.old.status:
            return "raised" if RANK[self.new.status] > RANK[self.old.status] else "lowered"
        return "changed"

    @property
    def fields(self) -> list[str]:
        if self.old is None or self.new is None:
            return []
        return [f.name for f in fields(MessageState) if getattr(self.old, f.name) != getattr(self.new, f.name)]

    def to_json(self) -> dict[str, Any]:
        old, new = self.old, self.new
        return {
            "type": "difference", "message_key": self.key, "kind": self.kind,
            "old_status": old and old.status.value, "new_status": new and new.status.value,
            "old_charge": old and old.charge_status and old.charge_status.value,
            "new_charge": new and new.charge_status and new.charge_status.value,
            "fields": self.fields,
        }


def differences(old: Mapping[str, MessageState], new: Mapping[str, MessageState]) -> list[Difference]:
    return [Difference(key, old.get(key), new.get(key))
            for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]


def correction_id(message_key: str, kind: str, version: int, *values: object) -> str:
    """Deterministic id of a correction written when version `version` took
    over: the same correction, written again, has the same id."""
    parts = [message_key, f"{kind}-correction", f"v{version}", *("" if v is None else str(v) for v in values)]
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))


def _charge_time(s: MessageState) -> int:
    assert s.charge_time is not None  # a state with a charge has its time
    return s.charge_time


def corrections(diffs: Iterable[Difference], version: int) -> list[Emitted]:
    """What moves a consumer of the change topics from the old version's view
    to the new one's, as the records the fold itself writes:

    - a move up (a status or charge ranked above the old one, or a message the
      old version never had) is an ordinary change with its ordinary id: the
      fold would have emitted exactly that id on reaching that value;
    - anything else that a consumer sees (a lower status, the same status with
      another `final`/error meaning, a lower charge) is a correction: its
      `previous` ranks at or above the new value, which the fold never writes,
      and its id is `correction_id`, never an id written before.
    Not expressible, so only reported: a message that has no state any more,
    a charge that is gone, a refund failure that is gone.
    """
    out: list[Emitted] = []
    for d in diffs:
        new, old = d.new, d.old
        if new is None:
            continue
        key = new.message_key
        previous = None if old is None else old.status
        old_meaning = None if old is None else tuple(getattr(old, f) for f in STATUS_MEANING)
        if old is None or RANK[new.status] > RANK[old.status]:
            out.append(status_change(new, previous, change_id(key, "status", new.status.value)))
        elif tuple(getattr(new, f) for f in STATUS_MEANING) != old_meaning:
            values = [getattr(new, f) for f in STATUS_MEANING]
            out.append(status_change(new, previous, correction_id(key, "status", version, *values)))
        old_charge = None if old is None else old.charge_status
        charge = new.charge_status
        if charge is not None and charge is not old_charge:
            charge_id = (change_id(key, "charge", charge.value)
                         if old_charge is None or CHARGE_RANK[charge] > CHARGE_RANK[old_charge]
                         else correction_id(key, "charge", version, charge.value))
            out.append(charge_change(new, old_charge, charge, _charge_time(new), False, charge_id))
        if new.refund_failed and not (old is not None and old.refund_failed) and charge is not None:
            out.append(charge_change(new, charge, ChargeStatus.REFUND_FAIL, _charge_time(new), True,
                                     change_id(key, "charge", ChargeStatus.REFUND_FAIL.value)))
    return out


def is_correction(change: Emitted) -> bool:
    """The convention consumers apply: `previous` ranks at or above the new
    value. The fold never writes that; only `dlr rebuild --finish` does."""
    if isinstance(change, StatusChange):
        return change.previous is not None and RANK[change.status] <= RANK[change.previous]
    if change.notification or change.previous is None or change.previous not in CHARGE_RANK:
        return False
    return change.charge_status in CHARGE_RANK and CHARGE_RANK[change.charge_status] <= CHARGE_RANK[change.previous]


def carry_over(old: Mapping[str, MessageState], new: dict[str, MessageState],
               edges_ms: Mapping[str, int], margin_us: int = HISTORY_MARGIN_US) -> int:
    """Messages whose receipts may be partly gone from the raw topics (their
    provider's raw topic lost records to retention before `edges_ms[provider]`
    and the state is not clearly younger) keep their old state: recomputing
    them from what is left could lower them for no reason. Returns how many."""
    carried = 0
    for key, state in old.items():
        edge = edges_ms.get(state.provider)
        if edge is not None and state.event_time < edge * 1000 + margin_us:
            new[key] = state
            carried += 1
    return carried


@dataclass
class Outcome:
    source: int
    target: int
    resumed: bool
    finish: bool
    dry_run: bool
    read: int = 0
    receipts: int = 0
    dead: int = 0
    carried: int = 0
    states: int = 0
    written: int = 0
    emitted: list[Emitted] | None = None
    diffs: list[Difference] | None = None

    def to_json(self) -> dict[str, Any]:
        kinds = Counter(d.kind for d in self.diffs or [])
        emitted = self.emitted or []
        return {
            "type": "summary", "source_version": self.source, "target_version": self.target,
            "resumed": self.resumed, "finish": self.finish, "dry_run": self.dry_run, "read": self.read,
            "receipts": self.receipts, "dead_lettered": self.dead, "states": self.states,
            "carried_over": self.carried, "states_written": self.written,
            "differences": len(self.diffs or []), **{k: kinds.get(k, 0) for k in
                                                    ("new", "raised", "lowered", "changed", "gone")},
            "status_changes": sum(isinstance(e, StatusChange) for e in emitted),
            "charge_changes": sum(isinstance(e, ChargeChange) for e in emitted),
            "corrections": sum(is_correction(e) for e in emitted),
        }


def summary_text(o: Outcome, bootstrap: str, shown: int = 20) -> str:
    from streams.topics import changelog

    s = o.to_json()
    would = "that would be " if o.dry_run else ""
    lines = [
        f"dlr rebuild{' --finish' if o.finish else ''}{' --dry-run' if o.dry_run else ''}: version "
        f"{o.target} from the raw topics ({'continued' if o.resumed else 'from scratch'}): {o.read} records, "
        f"{o.receipts} receipts, {o.dead} dead-lettered, {o.states} message states"
        + (f" ({o.carried} kept from version {o.source}: their raw receipts may be gone)" if o.carried else ""),
        f"  differs from version {o.source} for {s['differences']} message(s): {s['new']} new, "
        f"{s['raised']} raised, {s['lowered']} lowered, {s['changed']} other change, {s['gone']} without a "
        "state now",
    ]
    for d in (o.diffs or [])[:shown]:
        old = d.old.status.value if d.old else "-"
        new = d.new.status.value if d.new else "-"
        extra = "" if d.kind in ("raised", "lowered", "new", "gone") else f"  ({', '.join(d.fields)})"
        lines.append(f"    {d.key}: {old} -> {new}{extra}")
    if len(o.diffs or []) > shown:
        lines.append(f"    ... and {len(o.diffs or []) - shown} more (every one on stdout)")
    written = f"{s['status_changes']} status, {s['charge_changes']} charge, {s['corrections']} of them corrections"
    if o.finish:
        lines.append(f"  change records {would}written: {written}")
    else:
        lines.append(f"  change records `--finish` would write, as of now: {written}")
    if o.dry_run:
        lines.append("  dry run: nothing written")
        return "\n".join(lines)
    lines.append(f"  {o.written} state(s) written to {changelog(o.target)}")
    if o.finish:
        lines += [
            f"Version {o.target} is complete. Next: start every worker with DLR_STATE_VERSION={o.target}, e.g.",
            f"  DLR_STATE_VERSION={o.target} dlr worker --broker {bootstrap}",
            f"Keep {changelog(o.source)} until satisfied (DLR_STATE_VERSION={o.source} recovers it).",
        ]
    else:
        lines += [
            f"The workers still run version {o.source}; consumers have seen nothing of this yet. Next:",
            f"  1. stop every worker (DLR_STATE_VERSION={o.source});",
            f"  2. dlr rebuild --broker {bootstrap} --from-version {o.source} --version {o.target} --finish",
            "     (reads what arrived meanwhile, then writes the corrections to the change topics);",
            f"  3. start every worker with DLR_STATE_VERSION={o.target}.",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Kafka I/O
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    bootstrap: str
    source_version: int
    target_version: int
    finish: bool = False
    dry_run: bool = False
    force: bool = False


class RebuildError(RuntimeError):
    pass


def workers_running(bootstrap: str) -> int:
    """Members of the workers' consumer group."""
    from confluent_kafka.admin import AdminClient

    from streams.kafka.admin import client_config

    admin = AdminClient(client_config(bootstrap))  # kept referenced until the answer is in
    try:
        return len(admin.describe_consumer_groups([APP_ID])[APP_ID].result(timeout=30).members)
    except Exception as exc:
        raise RebuildError(f"cannot tell whether workers run (describing group {APP_ID}: {exc!r}); "
                           "if every worker is stopped, add --force") from exc


def _states_bar(what: str, topic_ranges: list[PartitionRange], err: IO[str]) -> Progress:
    return Progress(what, sum(r.size for r in topic_ranges), err)


def rebuild(request: Request, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Exit status: 0 done, 1 a write failed, 3 refused or impossible (the message says why)."""
    from streams import settings
    from streams.core import providers
    from streams.kafka.admin import ensure_topics
    from streams.topics import changelog, raw_topic, specs
    from streams.worker import steps

    out = out or sys.stdout
    err = err or sys.stderr
    source, target = request.source_version, request.target_version
    bootstrap = request.bootstrap
    try:
        if target == source or target < 1:
            raise RebuildError(f"--version {target} must be a version other than {source}, the one to compare with")
        if request.finish and not request.dry_run and not request.force:
            running = workers_running(bootstrap)
            if running:
                raise RebuildError(f"{running} worker(s) still in group {APP_ID}: --finish needs every worker "
                                   f"stopped, so that the comparison is with version {source}'s final states")
        client = consumer(bootstrap)
        try:
            source_ranges = all_of(client, changelog(source))
            if not source_ranges:
                raise RebuildError(f"no topic {changelog(source)}: is --from-version {source} right?")
            bar = _states_bar(f"reading version {source}", source_ranges, err)
            old = read_states(bootstrap, changelog(source), progress=bar.add)
            bar.close()
            # The raw topics' ends only now, after the old version's states: whatever
            # those states hold was folded from raw records the rebuild reads too.
            target_ranges = all_of(client, changelog(target))
            raw = [r for p in providers.names() for r in all_of(client, raw_topic(p))]
        finally:
            client.close()

        group = progress_group(target)
        done = committed(bootstrap, group, raw)
        resumed = bool(done)
        if resumed and not request.dry_run:
            # The rebuild records where M's changelog ended after its own writes;
            # anything beyond was written by workers running M: it is live now.
            ours = committed(bootstrap, group, target_ranges)
            if any(r.end > ours.get((r.topic, r.partition), 0) for r in target_ranges):
                raise RebuildError(f"workers have written to {changelog(target)} since the last `dlr rebuild`: "
                                   f"version {target} is live. Rebuild into a new version: --from-version "
                                   f"{target} --version {target + 1}")
        base: dict[str, MessageState] = {}
        stale_keys: set[str] = set()
        if resumed or any(r.size for r in target_ranges):
            bar = _states_bar(f"reading version {target}", target_ranges, err)
            base = read_states(bootstrap, changelog(target), progress=bar.add)
            bar.close()
            if not resumed:
                if not request.force:
                    raise RebuildError(
                        f"{changelog(target)} already holds states, but not from `dlr rebuild` (no offsets of "
                        f"group {group}): choose another --version, or --force to rebuild it from scratch")
                stale_keys, base = set(base), {}
        ranges = [PartitionRange(r.topic, r.partition, max(r.start, done.get((r.topic, r.partition), r.start)),
                                 r.end) for r in raw]
        outcome = Outcome(source, target, resumed, request.finish, request.dry_run)
        new = dict(base)
        edges: dict[str, int] = {}
        # partitions that lost records to retention, and the offset of their oldest record
        lossy = {(r.topic, r.partition): r.start for r in raw if r.start > 0}
        options = settings.parse_options()
        bar = Progress("rebuilding", sum(r.size for r in ranges), err)

        def fold_record(record: RawRecord) -> None:
            if lossy.get((record.topic, record.partition)) == record.offset:
                provider = record.topic.removeprefix(RAW_PREFIX)
                edges[provider] = max(edges.get(provider, 0), record.timestamp_ms)
            outcome.read += 1
            for item in steps.normalize_raw(record, options):  # one per report
                if item.receipt is not None:
                    outcome.receipts += 1
                    fold_into(new, (item.receipt,))
                else:
                    outcome.dead += 1
            bar.add()

        client = consumer(bootstrap)
        try:
            read_raw(client, ranges, fold_record)
        finally:
            client.close()
        bar.close()
        if not resumed:
            # a partition that lost records but was read from its start again on a
            # later run is not seen here; the first run already kept those states
            outcome.carried = carry_over(old, new, edges)
        outcome.states = len(new)
        outcome.diffs = differences(old, new)
        emitted = outcome.emitted = corrections(outcome.diffs, target)
        for d in outcome.diffs:
            out.write(json.dumps(d.to_json(), separators=(",", ":")) + "\n")
        for e in emitted if request.finish else []:
            out.write(json.dumps(records.to_json(e), ensure_ascii=False, separators=(",", ":")) + "\n")

        if not request.dry_run:
            partitions = partitions_count(bootstrap, RECEIPTS)
            ensure_topics(bootstrap, partitions, specs(target))
            writer = Writer(bootstrap)
            encode_state = encoder_for(changelog(target), "MessageState")  # registers, with a registry
            changed = [key for key, state in new.items() if base.get(key) != state]
            bar = Progress(f"writing version {target}", len(changed) + len(stale_keys - new.keys()), err)
            for key in changed:
                writer.send(changelog(target), partition_for(key.encode(), partitions), key.encode(),
                            encode_state(records.to_avro(new[key])))
                bar.add()
            for key in sorted(stale_keys - new.keys()):
                writer.send(changelog(target), partition_for(key.encode(), partitions), key.encode(), None)
                bar.add()
            writer.flush()
            bar.close()
            outcome.written = len(changed)
            if not writer.errors:
                client = consumer(bootstrap)
                try:
                    written_to = all_of(client, changelog(target))
                finally:
                    client.close()
                commit_ends(bootstrap, group, ranges + written_to)
                if request.finish:
                    counts = {t: partitions_count(bootstrap, t) for t in (STATUS_CHANGES, CHARGE_CHANGES)}
                    encoders = {t: encoder_for(t, r) for t, r in
                                ((STATUS_CHANGES, "StatusChange"), (CHARGE_CHANGES, "ChargeChange"))}
                    for e in emitted:
                        topic = STATUS_CHANGES if isinstance(e, StatusChange) else CHARGE_CHANGES
                        message_key = e.message_key.encode()
                        writer.send(topic, partition_for(message_key, counts[topic]), message_key,
                                    encoders[topic](records.to_avro(e)))
                    writer.flush()
            if writer.errors:
                for error in writer.errors[:5]:
                    err.write(f"dlr rebuild: write failed: {error}\n")
                return 1
        out.write(json.dumps(outcome.to_json(), separators=(",", ":")) + "\n")
        out.flush()
        err.write(summary_text(outcome, bootstrap) + "\n")
        return 0
    except (RebuildError, RuntimeError) as exc:
        err.write(f"dlr rebuild: {exc}\n")
        return 3
