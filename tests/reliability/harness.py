"""Tools of the reliability suite: feed raw receipts at a steady pace, read
topics back to their end, ask the broker where the workers' group stands, and
compare what the live pipeline holds with the offline fold.

Every broker call carries a timeout: a call without one can hang forever."""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streams.core import providers, records
from streams.core.fold import Emitted, fold_all
from streams.core.generate import receipts
from streams.core.model import MessageState, Receipt, ReceiptError, iso
from streams.kafka.admin import client_config
from streams.kafka.processes import WorkerProcess
from streams.ops.tail import to_json
from streams.serde import codec, envelope
from streams.topics import APP_ID, CHANGELOG, CHARGE_CHANGES, DEAD_LETTER, STATUS_CHANGES, raw_topic

PARTITIONS = 4
# The integration suite's worker settings: a killed worker's partitions move
# after 8 s, not the default 30.
WORKER_ENV = {"DLR_SESSION_TIMEOUT": "8", "DLR_PARTITIONS": str(PARTITIONS)}
SESSION_TIMEOUT = float(WORKER_ENV["DLR_SESSION_TIMEOUT"])
# info: the group joins are logged, and SessionReaper reads them
RELIABILITY_ENV = {**WORKER_ENV, "DLR_LOG_LEVEL": "info"}
RECEIVED_AT = 1_773_100_000_000_000  # the envelope's received_at of everything we feed (2026-03-10)


def raw_topics() -> list[str]:
    return [raw_topic(p) for p in providers.names()]


# --- what goes in ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Raw:
    """One record for a raw topic, and where the broker put it."""

    provider: str
    topic: str
    key: bytes | None
    value: bytes | None
    payload: bytes | None  # the provider's bytes inside the envelope
    receipt: Receipt | None  # what it normalizes to; None for a bad one
    kind: str = "valid"
    partition: int = -1
    offset: int = -1


def raw(provider: str, payload: bytes, *, kind: str = "valid", received_at: int = RECEIVED_AT,
        bare: bool = False) -> Raw:
    """An enveloped (or, `bare`, a plain) raw record keyed as `dlr produce` keys it."""
    options = providers.Options(received_at=received_at)
    try:
        receipt: Receipt | None = providers.normalize(provider, payload, options)
    except ReceiptError:
        receipt = None  # bad, or a batch of several reports (Infobip): keyed by its first, as dlr produce does
    message_key = providers.message_key(provider, payload, options)
    key = message_key.encode() if message_key is not None else None
    value = payload if bare else envelope.make(provider, payload, "test", received_at=received_at)
    return Raw(provider, raw_topic(provider), key, value, payload, receipt, kind)


def generated(count: int, *, seed: int, first_id: int = 1) -> list[Raw]:
    """Exactly `count` generated receipts (every provider, duplicates, reorders)."""
    items = itertools.islice(receipts(count, seed=seed, first_id=first_id), count)
    out = [raw(g.provider, g.payload) for g in items]
    assert len(out) == count and all(r.receipt is not None for r in out)
    return out


def producer(bootstrap: str, **extra: Any) -> Producer:
    return Producer(client_config(bootstrap, {
        "linger.ms": 5, "partitioner": "murmur2_random", "enable.idempotence": True, **extra}))


def produce_all(bootstrap: str, items: Sequence[Raw], **extra: Any) -> None:
    """Write and wait for every delivery report; fills in partition and offset."""
    feeder = Feeder(bootstrap, items, rate=None, **extra)
    feeder.run()
    feeder.check()


class Feeder(threading.Thread):
    """Produces `items` in order at `rate` records per second (None: as fast as
    it can) from a background thread, noting where each record landed."""

    def __init__(self, bootstrap: str, items: Sequence[Raw], rate: float | None, **extra: Any) -> None:
        super().__init__(name="feeder", daemon=True)
        self.bootstrap = bootstrap
        self.items = items
        self.rate = rate
        self.extra = extra
        self.sent = 0
        self.errors: list[str] = []
        self.finished = threading.Event()
        self.elapsed = 0.0

    def run(self) -> None:
        out = producer(self.bootstrap, **self.extra)
        start = time.monotonic()
        try:
            for i, item in enumerate(self.items):
                if self.rate is not None:
                    ahead = start + i / self.rate - time.monotonic()
                    if ahead > 0:
                        out.poll(ahead)
                while True:
                    try:
                        out.produce(item.topic, item.value, key=item.key, on_delivery=self._delivered(item))
                        break
                    except BufferError:
                        out.poll(0.05)
                self.sent = i + 1
                out.poll(0)
            left = out.flush(60)
            if left:
                self.errors.append(f"{left} records not delivered after 60 s")
        finally:
            self.elapsed = time.monotonic() - start
            self.finished.set()

    def _delivered(self, item: Raw) -> Any:
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                self.errors.append(f"{item.kind} to {item.topic}: {err}")
            else:
                item.partition, item.offset = msg.partition(), msg.offset()
        return report

    def check(self) -> None:
        assert not self.errors, f"producing failed: {self.errors[:5]}"
        missing = [i for i in self.items if i.offset < 0]
        assert not missing, f"{len(missing)} records without a delivery report"


# --- what the broker holds -------------------------------------------------------------------------


def _consumer(bootstrap: str, group: str | None = None) -> Consumer:
    return Consumer(client_config(bootstrap, {
        "group.id": group or f"dlr-reliability-{random.getrandbits(40):x}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "fetch.message.max.bytes": 8_000_000,
    }))


def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    consumer = _consumer(bootstrap)
    try:
        return {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
                for t in topics for p in range(PARTITIONS)}
    finally:
        consumer.close()


def committed(bootstrap: str, topics: Iterable[str], group: str = APP_ID) -> dict[tuple[str, int], int]:
    """The group's committed offsets (-1: none). Asking does not join the group."""
    consumer = _consumer(bootstrap, group)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(tps, timeout=15)}
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_us: int


def read_all(bootstrap: str, topics: Iterable[str], timeout: float = 120.0,
             since: dict[tuple[str, int], int] | None = None) -> list[Record]:
    """Every record of `topics` (from the `since` offsets, else the beginning)
    up to the ends they have now, in partition order."""
    names = list(topics)
    start = since or {}
    ends = {k: v for k, v in end_offsets(bootstrap, names).items() if v > start.get(k, 0)}
    out: list[Record] = []
    if not ends:
        return out
    consumer = _consumer(bootstrap)
    consumer.assign([TopicPartition(t, p, start.get((t, p), OFFSET_BEGINNING)) for t, p in ends])
    left = dict(ends)
    deadline = time.monotonic() + timeout
    try:
        while left:
            assert time.monotonic() < deadline, f"reading {names}: {left} not reached in {timeout:.0f}s"
            batch = consumer.consume(2000, 0.5)
            if not batch:  # the last offsets may be gone (compaction, markers): ask where we are
                for tp in consumer.position([TopicPartition(t, p) for t, p in left]):
                    if tp.offset >= ends[(tp.topic, tp.partition)]:
                        del left[(tp.topic, tp.partition)]
            for m in batch:
                if m.error():
                    continue
                tp = (str(m.topic()), int(m.partition()))
                offset = int(m.offset())
                if tp not in left or offset >= ends[tp]:
                    continue
                out.append(Record(tp[0], tp[1], offset, m.key(), m.value(), m.timestamp()[1] * 1000))
                if offset + 1 >= ends[tp]:
                    del left[tp]
    finally:
        consumer.close()
    return out


def wait_for_ids(bootstrap: str, ids: set[str], since: dict[tuple[str, int], int], timeout: float,
                 worker: WorkerProcess) -> float:
    """Seconds until every change id in `ids` is on the change topics after `since`."""
    start = time.monotonic()
    consumer = _consumer(bootstrap)
    consumer.assign([TopicPartition(t, p, since.get((t, p), OFFSET_BEGINNING))
                     for t in (STATUS_CHANGES, CHARGE_CHANGES) for p in range(PARTITIONS)])
    left = set(ids)
    try:
        while left:
            assert not worker.crashed, f"worker died:\n{worker.log_tail()}"
            assert time.monotonic() - start < timeout, f"{len(left)} changes not seen in {timeout:.0f}s"
            for m in consumer.consume(500, 0.2):
                if not m.error():
                    left.discard(str(to_json(m.value()).get("id")))
    finally:
        consumer.close()
    return time.monotonic() - start


def live_states(bootstrap: str) -> dict[str, MessageState]:
    """The live state: the last MessageState per key on the state changelog."""
    states: dict[str, MessageState] = {}
    for rec in read_all(bootstrap, [CHANGELOG]):
        key = (rec.key or b"").decode()
        if rec.value is None:
            states.pop(key, None)
            continue
        state = records.from_avro(MessageState, codec.decode(rec.value, expect="MessageState")[1])
        assert state.message_key == key, (key, state)
        states[key] = state
    return states


def lag(bootstrap: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """Per partition: records not yet committed by the workers' group."""
    names = list(topics)
    ends = end_offsets(bootstrap, names)
    done = committed(bootstrap, names)
    return {tp: end - max(done.get(tp, -1), 0) for tp, end in ends.items() if end - max(done.get(tp, -1), 0)}


_INPUTS: dict[str, list[str]] = {}


def input_topics(bootstrap: str, timeout: float = 90.0) -> list[str]:
    """The topics the workers' group consumes: its members' assignments less
    Faust's changelog and assignor topics (the raw topics and whatever the
    pipeline routes through the broker, e.g. a repartition topic). Asked of
    the group, not assumed: the pipeline's wiring changes. While the group is
    rebalancing, the last answer for this broker."""
    deadline = time.monotonic() + timeout
    while True:
        topics: set[str] = set()
        try:
            from confluent_kafka.admin import AdminClient

            admin = AdminClient(client_config(bootstrap))
            group = admin.describe_consumer_groups([APP_ID], request_timeout=5)[APP_ID].result(timeout=10)
            topics = {tp.topic for m in group.members for tp in m.assignment.topic_partitions}
        except Exception:  # mid-rebalance
            pass
        topics = {t for t in topics if not t.endswith("-changelog") and "__assignor" not in t}
        if topics:
            assert set(raw_topics()) <= topics, f"the group does not consume every raw topic: {sorted(topics)}"
            _INPUTS[bootstrap] = sorted(topics)
            return _INPUTS[bootstrap]
        if bootstrap in _INPUTS:
            return _INPUTS[bootstrap]
        assert time.monotonic() < deadline, f"the group {APP_ID} has no member with partitions after {timeout:.0f}s"
        time.sleep(0.5)


def wait_drained(bootstrap: str, workers: Sequence[WorkerProcess], timeout: float, fail: bool = True) -> float:
    """Until the group has committed every record of every topic it consumes
    (every partition); fails if a running worker dies. After `timeout`: fails,
    or (`fail=False`) returns, for the caller to count what is left."""
    start = time.monotonic()
    left: dict[tuple[str, int], int] = {}
    names: list[str] = []
    quiet: dict[tuple[str, int], int] | None = None  # every topic's ends when the lag was last seen at 0
    watched = [*raw_topics(), CHANGELOG, STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER]
    while time.monotonic() - start < timeout:
        for w in workers:
            assert not w.crashed, f"worker died:\n{w.log_tail()}"
        names = input_topics(bootstrap, timeout=max(1.0, timeout - (time.monotonic() - start)))
        left = lag(bootstrap, names)
        if not left:
            # drained only if nothing moved since the last look: writes made
            # before a commit may still land, and may feed a topic we consume
            ends = end_offsets(bootstrap, sorted({*names, *watched}))
            if ends == quiet:
                return time.monotonic() - start
            quiet = ends
        else:
            quiet = None
        time.sleep(1.0)
    if not fail:
        return time.monotonic() - start
    logs = "\n".join(w.log_tail(15) for w in workers)
    raise AssertionError(f"not drained after {timeout:.0f}s: lag {sum(left.values())} in {sorted(left)}\n{logs}")


def watermark_sum(bootstrap: str, topics: Iterable[str]) -> int:
    return sum(end_offsets(bootstrap, topics).values())


def wait_progress(bootstrap: str, worker: WorkerProcess, after: int, need: int, timeout: float) -> int:
    """Until the worker has written `need` more state changelog records than `after`."""
    deadline = time.monotonic() + timeout
    while True:
        now = watermark_sum(bootstrap, [CHANGELOG])
        if now >= after + need:
            return now
        assert not worker.crashed, f"worker died:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, (
            f"worker made no progress in {timeout:.0f}s ({now - after} changelog records)\n{worker.log_tail()}")
        time.sleep(0.25)


def group_members(bootstrap: str) -> list[int]:
    """Partitions held by each member of the workers' group now."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(bootstrap))
    last: object = None
    for _ in range(15):
        try:
            group = admin.describe_consumer_groups([APP_ID], request_timeout=5)[APP_ID].result(timeout=10)
            return [len(m.assignment.topic_partitions) for m in group.members]
        except Exception as exc:  # mid-rebalance: ask again
            last = exc
            time.sleep(1)
    raise AssertionError(f"could not describe group {APP_ID}: {last}")


# --- comparing -------------------------------------------------------------------------------------


@dataclass
class Offline:
    states: dict[str, MessageState]
    changes: dict[str, dict[str, Any]]  # id -> the change as `dlr fold` prints it


def offline(receipts_in_order: Iterable[Receipt]) -> Offline:
    states, emitted = fold_all(list(receipts_in_order))
    return Offline(states, {e.id: change_json(e) for e in emitted})


def change_json(e: Emitted) -> dict[str, Any]:
    return records.to_json(e)


@dataclass
class Verdict:
    expected_states: int
    live_states: int
    lost_states: list[str] = field(default_factory=list)  # expected, not on the changelog
    wrong_states: list[str] = field(default_factory=list)  # on the changelog, not the offline fold's
    extra_states: list[str] = field(default_factory=list)  # on the changelog, not expected at all
    missing_changes: list[str] = field(default_factory=list)  # offline fold emitted it, the stream did not
    unexpected_changes: list[str] = field(default_factory=list)  # the stream emitted an id the fold did not
    differing_changes: list[str] = field(default_factory=list)  # same id, other content than the fold's
    mismatched_duplicates: list[str] = field(default_factory=list)  # same id emitted with other content
    duplicates: int = 0  # extra copies of the same change (same id, same content)
    changes: int = 0
    dead_letters: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return len(self.lost_states) + len(self.missing_changes)

    @property
    def wrong(self) -> int:
        return (len(self.wrong_states) + len(self.extra_states) + len(self.unexpected_changes)
                + len(self.differing_changes) + len(self.mismatched_duplicates))

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.wrong == 0

    def figures(self) -> str:
        return (f"states={self.live_states}/{self.expected_states} changes={self.changes} lost={self.lost} "
                f"(states {len(self.lost_states)}, changes {len(self.missing_changes)}) wrong={self.wrong} "
                f"(states {len(self.wrong_states)}, extra {len(self.extra_states)}, unexpected changes "
                f"{len(self.unexpected_changes)}, differing {len(self.differing_changes)}, mismatched duplicates "
                f"{len(self.mismatched_duplicates)}) duplicates={self.duplicates} (same id, same content)")

    def explain(self) -> str:
        return self.figures() + "\n" + "\n".join(self.samples[:10])


def verify(bootstrap: str, want: Offline) -> Verdict:
    """The live state and every emitted change against the offline fold."""
    live = live_states(bootstrap)
    verdict = Verdict(len(want.states), len(live))
    for key, state in want.states.items():
        got = live.get(key)
        if got is None:
            verdict.lost_states.append(key)
        elif got != state:
            verdict.wrong_states.append(key)
            if len(verdict.samples) < 10:
                verdict.samples.append(f"state {key}: live {got} != offline {state}")
    verdict.extra_states = sorted(set(live) - set(want.states))

    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in read_all(bootstrap, [STATUS_CHANGES, CHARGE_CHANGES]):
        change = to_json(rec.value)
        seen[str(change.get("id"))].append(change)
    verdict.changes = sum(len(v) for v in seen.values())
    verdict.missing_changes = sorted(set(want.changes) - set(seen))
    verdict.unexpected_changes = sorted(set(seen) - set(want.changes))
    for change_id, copies in seen.items():
        verdict.duplicates += len(copies) - 1
        if any(c != copies[0] for c in copies[1:]):
            verdict.mismatched_duplicates.append(change_id)
            verdict.samples.append(f"duplicate {change_id} differs: {copies}")
        expected = want.changes.get(change_id)
        if expected is not None and copies[0] != expected:
            verdict.differing_changes.append(change_id)
            if len(verdict.samples) < 10:
                verdict.samples.append(f"change {change_id}: live {copies[0]} != offline {expected}")
    for change_id in verdict.missing_changes[:3]:
        verdict.samples.append(f"missing change {want.changes[change_id]}")
    for change_id in verdict.unexpected_changes[:3]:
        verdict.samples.append(f"unexpected change {seen[change_id][0]}")
    verdict.dead_letters = sum(1 for _ in read_all(bootstrap, [DEAD_LETTER]))
    return verdict


def settled_verify(bootstrap: str, want: Offline, tries: int = 3, pause: float = 3.0) -> Verdict:
    """`verify`, asked again after a pause if it is not clean: writes the
    workers made before committing may still be in flight. A loss stays a loss."""
    verdict = verify(bootstrap, want)
    for _ in range(tries - 1):
        if verdict.clean:
            break
        time.sleep(pause)
        verdict = verify(bootstrap, want)
    return verdict


def cli_fold_states(items: Iterable[Raw], workdir: Path) -> dict[str, dict[str, Any]]:
    """Every message's state as the command line computes it offline:
    `dlr normalize --provider P | dlr fold --states` over the raw payloads."""
    by_provider: dict[str, list[bytes]] = defaultdict(list)
    for item in items:
        if item.receipt is not None and item.payload is not None:
            by_provider[item.provider].append(item.payload)
    workdir.mkdir(parents=True, exist_ok=True)
    normalized = workdir / "normalized.jsonl"
    with normalized.open("wb") as out:
        for provider, payloads in sorted(by_provider.items()):
            source = workdir / f"{provider}.txt"
            source.write_bytes(b"\n".join(payloads) + b"\n")
            done = subprocess.run([sys.executable, "-m", "streams", "normalize", "--provider", provider,
                                   "--received-at", iso(RECEIVED_AT), str(source)],
                                  stdout=out, stderr=subprocess.PIPE, timeout=300, check=False)
            assert done.returncode == 0, f"dlr normalize --provider {provider}: {done.stderr.decode()[-2000:]}"
    done = subprocess.run([sys.executable, "-m", "streams", "fold", "--states", str(normalized)],
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, f"dlr fold --states: {done.stderr.decode()[-2000:]}"
    states = {}
    for line in done.stdout.splitlines():
        obj = json.loads(line)
        if obj.get("type") == "state":
            states[obj["message_key"]] = obj
    return states


# the worker's warning when it reads a partition again from a record skipped on
# the way to the fold (streams.worker.drain.SeekGuard)
PASSED_OVER = "were skipped on the way to the fold"


def log_count(worker_logs: Iterable[str], needle: str) -> int:
    return sum(text.count(needle) for text in worker_logs)


def counts(items: Iterable[Raw]) -> Counter[str]:
    return Counter(i.kind for i in items)


# --- the group -------------------------------------------------------------------------------------


def member_ids(bootstrap: str) -> list[str]:
    """Member ids of the workers' group now (empty while it has none)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(bootstrap))
    last: object = None
    for _ in range(15):
        try:
            group = admin.describe_consumer_groups([APP_ID], request_timeout=5)[APP_ID].result(timeout=10)
            return [str(m.member_id) for m in group.members]
        except Exception as exc:  # mid-rebalance: ask again
            last = exc
            time.sleep(1)
    raise AssertionError(f"could not describe group {APP_ID}: {last}")


def expire_member(bootstrap: str, member_id: str, group: str = APP_ID) -> int:
    """Drop a dead member from the group, as a Kafka broker does when the
    member's session times out (a LeaveGroup on its behalf); the Kafka error
    code comes back (0: done). noida-db 0.2.3 never expires a session: a
    worker killed with -9 stays a member for good, and the group cannot
    rebalance again (see test_kill_9_and_quick_restart_resumes_on_the_broker_alone)."""
    import asyncio

    from aiokafka.client import AIOKafkaClient, CoordinationType
    from aiokafka.protocol.group import LeaveGroupRequest

    async def leave() -> int:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await client.bootstrap()
        try:
            node = await client.coordinator_lookup(CoordinationType.GROUP, group)
            response = await asyncio.wait_for(client.send(node, LeaveGroupRequest(group, member_id)), 15)
            return int(response.error_code)
        finally:
            await client.close()

    return asyncio.run(asyncio.wait_for(leave(), 30))


JOINED = re.compile(r"Joined group '[^']*' \(generation \d+\) with member_id (\S+)")
# aiokafka drops its member id on these and joins again under a new one
RESET = re.compile(r"Heartbeat failed for group .*generation id is not|local member_id was not recognized"
                   r"|OffsetCommit failed .*(IllegalGenerationError|UnknownMemberIdError)")


class SessionReaper(threading.Thread):
    """Stands in for the broker's session timeout, which noida-db 0.2.3 lacks:
    a member id nobody heartbeats for any more is expired from the group
    `session_timeout` seconds after it was given up, as Kafka would. Given up:
    the id of a worker killed with -9 (`dead`), or an id a running worker
    dropped to join again under a new one (aiokafka does on an illegal
    generation or unknown member id). The worker logs (DLR_LOG_LEVEL=info)
    tell which id each worker holds."""

    def __init__(self, bootstrap: str, session_timeout: float, workers: Sequence[WorkerProcess]) -> None:
        super().__init__(name="session-reaper", daemon=True)
        self.bootstrap = bootstrap
        self.session_timeout = session_timeout
        self.workers = workers
        self.read: dict[Path, int] = {}
        self.current: dict[Path, str] = {}  # log -> the member id its worker holds now
        self.due: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.expired: list[tuple[str, int]] = []

    def _scan(self) -> None:
        for worker in list(self.workers):
            path = worker.log_path
            try:
                with path.open("rb") as log:
                    log.seek(self.read.get(path, 0))
                    chunk = log.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1
            self.read[path] = self.read.get(path, 0) + end
            for line in chunk[:end].decode(errors="replace").splitlines():
                joined = JOINED.search(line)
                if joined:
                    self.current[path] = joined.group(1)
                elif RESET.search(line) and path in self.current:
                    self._give_up(self.current.pop(path))

    def _give_up(self, member: str) -> None:
        with self.lock:
            self.due.append((time.monotonic() + self.session_timeout, member))

    def dead(self, worker: WorkerProcess) -> None:
        """`worker` was killed: every id it held or was joining with is given up."""
        self._scan()
        held = self.current.pop(worker.log_path, None)
        others = {m for p, m in self.current.items() if p != worker.log_path}
        for member in {*member_ids(self.bootstrap), *([held] if held else [])} - others:
            self._give_up(member)

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            self._scan()
            with self.lock:
                now = time.monotonic()
                ready = [m for t, m in self.due if t <= now]
                self.due = [(t, m) for t, m in self.due if t > now]
            for member in ready:
                self.expired.append((member, expire_member(self.bootstrap, member)))

    def stop(self) -> None:
        self.stopped.set()
        self.join(30)
