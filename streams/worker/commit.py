"""The commit protocol: one batch's life, from the moment an agent takes it to
the moment its offsets may be committed, in the order docs/commit-order.md
gives and explains. `CommitProtocol.run` reads as that order:

1. admit: only records of the current consumer generation, each the next
   of its partition (`Admission`);
2. normalize: the agent's own step; its outputs (canonical receipts, dead
   letters, repartitioned receipts) go into the batch's outbox;
3. fold, under the lock of each (partition, provider), with the flow running
   (`Gate`); status and charge changes go into the outbox;
4. emit and await: every output of the batch acknowledged by the broker;
5. write state and await: the store, then the changelog, acknowledged;
6. release the batch's acks, so Faust's consumer may commit them.

A crash anywhere before 6 leaves the batch's offsets uncommitted: it is read
again, and the fold being idempotent with deterministic change ids, every
repeat is an exact copy. A batch kept out at 1 or 3 is never acked and is read
again. Where Faust's own code would ack or commit past a record, the fence
(streams.worker.faust_compat) consults this module's decision
(`Admission.is_current`) and the offset ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from streams.core.model import Receipt
from streams.serde.registry import RegistryError
from streams.worker import faust_compat, steps
from streams.worker.faust_compat import store
from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics
from streams.worker.output import Batch, Outbox

log = logging.getLogger("dlr.worker")


@dataclass(slots=True)
class Item:
    """A receipt to fold: its message key, the receipt (decoded by the
    normalize step) or its encoded bytes (off the repartition topic), and the
    event it came in."""

    key: bytes
    receipt: Receipt | None
    value: bytes | None
    event: Any


# Step 2: the agent's work on its admitted events; returns what to fold.
Work = Callable[[list[Any], Outbox], Awaitable[list[Item]]]
# A fold holds the lock of each (partition, provider) whose messages it folds,
# until their states are written. A message key is "<provider>:<id>": a
# provider's normalize agent and the repartition fold agent never fold one
# message at once, and the normalize agents never wait on one another.
Lock = tuple[int, bytes]
Changed = dict[bytes, tuple[bytes, Any]]  # key -> (new state, the event that made it)


class Admission:
    """Which records a batch may process: the one decision, made here, that
    the agents (`admit`), the gate and the fence's ack override
    (`is_current`) all take."""

    def __init__(self, app: Any, ledger: OffsetLedger[Any], metrics: Metrics) -> None:
        self.app = app
        self.ledger = ledger
        self.metrics = metrics
        self.logged_generation = -1

    def is_current(self, message: Any) -> bool:
        """Fetched in the consumer's current generation, with the flow running.
        Anything else is read again from the committed offset by whoever owns
        its partition now. Faust's take buffer, which a rebalance does not
        clear, can hand over records of both generations in one batch."""
        app = self.app
        return bool(message.generation_id == app.consumer_generation_id and app.flow_control.is_active())

    def admit(self, events: Sequence[Any], held: faust_compat.AckHold) -> list[Any]:
        """The events to process now: current, and each the next of its
        partition (`OffsetLedger.admit`), so a partition is processed in
        offset order. The rest are kept out, never acked, and read again."""
        expect: dict[Any, int] = {}
        admit, is_current = self.ledger.admit, self.is_current
        now = []
        for event in events:
            message = event.message
            if is_current(message) and admit(message.tp, message.offset, expect):
                now.append(event)
            else:
                held.keep_out(message)
        return now

    def stale(self) -> None:
        """Faust tried to ack a record that is not current (refused by the fence)."""
        generation = self.app.consumer_generation_id
        if self.logged_generation != generation:  # once per rebalance
            self.logged_generation = generation
            log.info("dlr worker: records fetched before the rebalance to generation %s are read again", generation)
        self.metrics.rereads += 1


class Gate:
    """Lets a batch fold only while the consumer's flow runs; lets a
    rebalance go on only once every fold that got in has written its states.

    After a rebalance Faust recovers the table from the changelog into the
    very store the fold reads and writes: a fold in flight would read states
    half recovered, or have a newer state overwritten by an older changelog
    record."""

    def __init__(self, app: Any, admission: Admission) -> None:
        self.app = app
        self.admission = admission
        self.inside = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def enter(self, items: list[Item]) -> list[Item] | None:
        """The items this batch may fold (None: none, the flow is stopped);
        once in, the caller must `leave`. The generation may have moved
        since the batch was admitted: its older records are left out."""
        if not self.app.flow_control.is_active():
            return None
        self.inside += 1
        self.idle.clear()
        is_current = self.admission.is_current
        return [item for item in items if is_current(item.event.message)]

    def leave(self) -> None:
        self.inside -= 1
        if not self.inside:
            self.idle.set()

    async def drained(self) -> None:
        """Once no fold is between reading and writing states (called when
        partitions are revoked: the flow is stopped then, so none gets in)."""
        await self.idle.wait()


class CommitProtocol:
    """`outbox`: a new batch of outputs. `changelog`: where the state
    changelog records go when the protocol writes them itself
    (at-least-once); None leaves them to Faust's table (exactly-once, inside
    its transaction)."""

    def __init__(self, app: Any, table: Any, metrics: Metrics, outbox: Callable[[], Outbox],
                 changelog: Callable[[], Batch] | None, ledger: OffsetLedger[Any]) -> None:
        self.table = table
        self.metrics = metrics
        self.outbox = outbox
        self.changelog = changelog
        self.changelog_topic: str = table.changelog_topic.get_topic_name()
        self.admission = Admission(app, ledger, metrics)
        self.gate = Gate(app, admission=self.admission)
        self.locks: defaultdict[Lock, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def run(self, events: Sequence[Any], work: Work) -> None:
        """One batch, steps 1 to 6. An exception or a cancellation leaves the
        acks held: the batch is read again."""
        held = faust_compat.AckHold(events)  # nothing of the batch is acked before step 6
        admitted = self.admission.admit(events, held)  # 1. admit
        outbox = self.outbox()
        items = await work(admitted, outbox)  # 2. normalize, into the outbox
        if await self.fold_and_write(items, outbox):  # 3, 4, 5
            held.release()  # 6. release the acks for commit

    async def fold_and_write(self, items: list[Item], outbox: Outbox) -> bool:
        """Steps 3 to 5. False: the gate kept the batch out (a rebalance), and
        its acks must stay held."""
        admitted = self.gate.enter(items)
        if admitted is None:
            await delivered(outbox)  # what step 2 sent: a failed write still stops the worker
            return False
        try:
            async with self._locked(admitted) as by_lock:
                changed = await self.fold(by_lock, outbox)  # 3. fold, changes into the outbox
                await delivered(outbox)  # 4. every output acknowledged
                await self.write_states(changed)  # 5. store and changelog, acknowledged
        finally:
            self.gate.leave()
        return True

    @contextlib.asynccontextmanager
    async def _locked(self, items: list[Item]) -> Any:
        """The items by lock, every lock held, taken in order so that two
        agents never wait on each other in a cycle."""
        by_lock: defaultdict[Lock, list[Item]] = defaultdict(list)
        for item in items:
            by_lock[(item.event.message.partition, item.key.partition(b":")[0])].append(item)
        async with contextlib.AsyncExitStack() as held:
            for lock in sorted(by_lock):
                await held.enter_async_context(self.locks[lock])
            yield by_lock

    async def fold(self, by_lock: dict[Lock, list[Item]], outbox: Outbox) -> Changed:
        """Step 3: each receipt folded into its state (read from the store, or
        as this batch left it); every change sent into the outbox."""
        changed: Changed = {}
        read = store.reader(self.table)
        send, emitted = outbox.send, self.metrics.emitted
        try:
            for group in by_lock.values():
                for item in group:
                    key, event = item.key, item.event
                    if key in changed:
                        state: bytes | None = changed[key][0]
                    else:
                        store.as_current(event)  # the store reads the partition of the current event
                        state = read(key)
                    source = steps.source_of(event)
                    if item.receipt is None:
                        new_state, outs = steps.fold_one(state, item.value, source)
                    else:
                        new_state, outs = steps.fold_receipt(state, item.receipt, source)
                    if new_state is not None:
                        changed[key] = (new_state, event)  # one state write per message per batch
                    for out in outs:
                        await send(out.topic, out.key, out.value)
                        emitted(out.topic, out.status)
        except RegistryError as exc:  # a state or receipt in a schema only the registry knows, and it is down
            stop(f"schema registry: {exc}")
        return changed

    async def write_states(self, changed: Changed) -> None:
        """Step 5: the states into the store, then onto the changelog, and
        wait for the broker; then record the changelog offsets, so a restart
        reads the changelog on from there."""
        table = self.table
        if self.changelog is None:  # exactly-once: Faust's table writes both, inside the transaction
            for key, (new_state, event) in changed.items():
                store.as_current(event)
                table[key] = new_state
            return
        log_box = self.changelog()
        for key, (new_state, event) in changed.items():
            store.as_current(event)
            store.write(table, key, new_state)
        for key, (new_state, event) in changed.items():
            await log_box.send(self.changelog_topic, key, new_state, event.message.partition, track=True)
        await delivered(log_box)
        for partition, offset in log_box.offsets.items():
            store.record_changelog_offset(table, self.changelog_topic, partition, offset)


async def delivered(outbox: Outbox) -> None:
    """Wait for the broker's acknowledgement of every output sent so far. A
    send that failed stops the worker at once: letting Faust go on would
    commit the offsets of records whose outputs were lost."""
    try:
        await outbox.delivered()
    except Exception as exc:
        stop(f"a write to Kafka failed ({type(exc).__name__}: {exc})")


def stop(why: str) -> NoReturn:
    """Stop the worker now, before Faust can commit the batch in hand: its
    records are read again after restart."""
    log.critical("dlr worker: %s; stopping so that nothing is committed", why)
    logging.shutdown()
    os._exit(70)
