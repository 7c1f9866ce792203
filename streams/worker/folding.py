"""Folding batches of receipts into the state table, in the order that keeps
at-least-once honest: under the lock of each (partition, provider), read the
states, fold, send every output and wait until the broker has acknowledged
it, and only then write the states (local store and changelog).

A crash anywhere before the state write leaves the receipts' offsets
uncommitted: they are read again and emit again, with the same ids. A state is
never ahead of what was emitted from it, so a re-read receipt that "changes
nothing" really had its changes emitted. The lock keeps two agents (a normalize
agent folding on the spot, the repartition fold agent) from interleaving on one
message while they wait for acknowledgements.

The `Gate` keeps folds and table recovery apart: a rebalance recovers the
store from the changelog while a batch still in flight would read and write
it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NoReturn

import faust
from faust.streams import _current_event
from faust.types import TP

from streams.core.model import Receipt
from streams.serde.registry import RegistryError
from streams.worker import steps
from streams.worker.metrics import Metrics
from streams.worker.output import Batch, Outbox

log = logging.getLogger("dlr.worker")

Item = tuple[bytes, Receipt | None, bytes | None, faust.EventT[bytes]]  # key, receipt or its bytes, event


def as_current(event: faust.EventT[bytes]) -> None:
    """Make `event` the current event. A Faust table picks the changelog
    partition and the RocksDB partition store from the current event, which in
    a `take_events` batch is not the one being folded. (Private to Faust; the
    stream's own `_set_current_event` is not safe here: it races the take
    buffer. See faust-streaming issue #497.)"""
    _current_event.set(weakref.ref(event))


async def delivered(outbox: Outbox) -> None:
    """Wait for the broker's acknowledgement of every output of a batch. A
    send that failed stops the worker at once: letting Faust go on would
    commit the offsets of records whose outputs were lost. The records are read
    again after restart."""
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


Changed = dict[bytes, tuple[bytes, faust.EventT[bytes]]]  # key -> (new state, the event that made it)
# A fold holds the lock of each (partition, provider) it folds messages of,
# until their states are written: a message key is "<provider>:<id>", so a
# provider's normalize agent and the repartition fold agent never fold one
# message at once, while the normalize agents, each folding only its own
# provider's messages, never wait on one another. (One lock per partition
# made the five wait in turn, each through two broker round trips: 15-65 ms
# per batch of five receipts at 500 receipts/s.)
Lock = tuple[int, bytes]


class Gate:
    """Lets a batch fold only while the consumer's flow runs, and only its
    records of the current generation; lets a rebalance go on only once every
    fold that got in has written its states.

    Why: after a rebalance Faust recovers the table from the changelog (up to
    its end when recovery starts) into the very store the fold reads and
    writes. A batch that was in flight when the rebalance began read states
    half recovered, or had a newer state overwritten by an older changelog
    record: intermediate changes went out with a wrong `previous`, and the
    next fold started from a state behind the changelog (kill -9 test: 5 to
    48 changes of 46,000 per run). A batch kept out is never acked, even
    once the flow runs again in the same generation (`acks.Done.withhold`),
    and is read again from the committed offset after the rebalance."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.inside = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def enter(self, items: list[Item]) -> list[Item] | None:
        """The items this batch may fold (None: none, the flow is stopped);
        once in, the caller must `leave`. Records of an older generation are
        left out: they are read again from the committed offset, and Faust's
        take buffer, which a rebalance does not clear, can hand them over in
        one batch with the new generation's."""
        app = self.app
        if not app.flow_control.is_active():
            return None
        generation = app.consumer_generation_id
        self.inside += 1
        self.idle.clear()
        return [item for item in items if item[3].message.generation_id == generation]

    def leave(self) -> None:
        self.inside -= 1
        if not self.inside:
            self.idle.set()

    async def drained(self) -> None:
        """Once no fold is between reading and writing states (called when
        partitions are revoked: the flow is stopped then, so none gets in)."""
        await self.idle.wait()


class Folder:
    """`changelog`: where the state table's changelog records go, when the
    folder writes them itself (at-least-once); None leaves the changelog to
    Faust's table (exactly-once, inside its transaction)."""

    def __init__(self, states: Any, metrics: Metrics, gate: Gate,
                 changelog: Callable[[], Batch] | None = None) -> None:
        self.states = states
        self.gate = gate
        self.metrics = metrics
        self.changelog = changelog
        self.changelog_topic = states.changelog_topic.get_topic_name()
        self.locks: defaultdict[Lock, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def fold(self, items: list[Item], outbox: Outbox) -> bool:
        """Fold `items`, send their outputs into `outbox`, wait until all of
        the outbox is delivered (what the caller sent into it before, too),
        then write the states. One wait per batch, whatever its partitions:
        their locks (`Lock`) are taken in order, so two agents never wait on
        each other in a cycle. False: the gate kept the batch out, and the
        caller must withhold its acks (`acks.Done.withhold`)."""
        admitted = self.gate.enter(items)
        if admitted is None:
            await delivered(outbox)  # what was sent before: a failed write still stops the worker
            return False  # not folded: the caller must not let Faust ack the batch
        items = admitted
        try:
            by_lock: defaultdict[Lock, list[Item]] = defaultdict(list)
            for item in items:
                by_lock[(item[3].message.partition, item[0].partition(b":")[0])].append(item)
            async with contextlib.AsyncExitStack() as held:
                for lock in sorted(by_lock):
                    await held.enter_async_context(self.locks[lock])
                changed = await self._fold_all(by_lock, outbox)
                await delivered(outbox)
                await self._write(changed)
        finally:
            self.gate.leave()
        return True

    async def _fold_all(self, by_lock: dict[Lock, list[Item]], outbox: Outbox) -> Changed:
        changed: Changed = {}
        try:
            for group in by_lock.values():
                await self._fold(group, outbox, changed)
        except RegistryError as exc:  # a state or receipt in a schema only the registry knows, and it is down
            stop(f"schema registry: {exc}")
        return changed

    def _store(self, changed: Changed) -> None:
        """Into the table's store itself: Table.__setitem__ would also write
        the changelog, through Faust's unawaited buffer."""
        store = self.states.data
        for key, (new_state, event) in changed.items():
            as_current(event)
            store[key] = new_state

    async def _write(self, changed: Changed) -> None:
        if self.changelog is None:
            for key, (new_state, event) in changed.items():
                as_current(event)
                self.states[key] = new_state
            return
        # Faust's own changelog write is buffered (send_soon) and not awaited
        # before the batch is acked, and its pre-commit flush can miss it: a
        # partition that moves to another worker then recovers without the last
        # states while their receipts' offsets are committed. Written here and
        # awaited, the changelog is in Kafka before Faust may commit the batch.
        log_box = self.changelog()
        self._store(changed)
        for key, (new_state, event) in changed.items():
            await log_box.send(self.changelog_topic, key, new_state, event.message.partition, track=True)
        await delivered(log_box)
        store = self.states.data
        for partition, offset in log_box.offsets.items():
            # what Faust's own changelog callback records: at restart, recovery
            # reads the changelog from here instead of from the start
            store.set_persisted_offset(TP(self.changelog_topic, partition), offset)

    async def _fold(self, group: list[Item], outbox: Outbox, changed: Changed) -> None:
        # The store's own read (RocksDB or memory; keys and values are raw
        # bytes, so Table.get would only add its sensor call and, for a new
        # message, a KeyError raised and caught twice: 3.5% of the worker).
        read = self.states.data._get
        for key, receipt, value, event in group:
            if key in changed:
                state: bytes | None = changed[key][0]
            else:
                as_current(event)  # the store reads the partition of the current event
                state = read(key)
            source = steps.source_of(event)
            if receipt is None:
                new_state, outs = steps.fold_one(state, value, source)
            else:
                new_state, outs = steps.fold_receipt(state, receipt, source)
            if new_state is not None:
                changed[key] = (new_state, event)  # one state write per message per batch
            for out in outs:
                await outbox.send(out.topic, out.key, out.value)
                self.metrics.emitted(out.topic, out.status)
