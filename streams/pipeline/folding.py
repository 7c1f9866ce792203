"""Folding batches of receipts into the state table, in the order that keeps
at-least-once honest: per partition, under a lock, read the states, fold,
send every output and wait until the broker has acknowledged it, and only
then write the states (local store and changelog).

A crash anywhere before the state write leaves the receipts' offsets
uncommitted: they are read again and emit again, with the same ids. A state is
never ahead of what was emitted from it, so a re-read receipt that "changes
nothing" really had its changes emitted. The lock keeps two agents (a normalize
agent folding on the spot, the repartition fold agent) from interleaving on one
message while they wait for acknowledgements."""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.streams import _current_event

from streams.model import Receipt
from streams.pipeline import steps
from streams.pipeline.metrics import Metrics

log = logging.getLogger("dlr.worker")

Send = Callable[[steps.Out], Awaitable[Awaitable[Any]]]  # returns the delivery ack
Item = tuple[bytes, Receipt | None, bytes | None, faust.EventT[bytes]]  # key, receipt or its bytes, event


def as_current(event: faust.EventT[bytes]) -> None:
    """Make `event` the current event. A Faust table picks the changelog
    partition and the RocksDB partition store from the current event, which in
    a `take_events` batch is not the one being folded. (Private to Faust; the
    stream's own `_set_current_event` is not safe here: it races the take
    buffer. See faust-streaming issue #497.)"""
    _current_event.set(weakref.ref(event))


async def acknowledged(acks: list[Awaitable[Any]]) -> None:
    """Wait for the broker's acknowledgement of every send. A send that failed
    stops the worker at once: letting Faust go on would commit the offsets of
    records whose outputs were lost. The records are read again after restart."""
    try:
        await asyncio.gather(*acks)
    except Exception as exc:
        log.critical("dlr worker: a write to Kafka failed (%s: %s); stopping so that nothing is committed",
                     type(exc).__name__, exc)
        logging.shutdown()
        os._exit(70)


class Folder:
    def __init__(self, states: Any, send: Send, metrics: Metrics) -> None:
        self.states = states
        self.send = send
        self.metrics = metrics
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def fold(self, items: list[Item]) -> None:
        by_partition: defaultdict[int, list[Item]] = defaultdict(list)
        for item in items:
            by_partition[item[3].message.partition].append(item)
        for partition, group in by_partition.items():
            async with self.locks[partition]:
                await self._fold(group)

    async def _fold(self, group: list[Item]) -> None:
        changed: dict[bytes, tuple[bytes, faust.EventT[bytes]]] = {}
        acks: list[Awaitable[Any]] = []
        for key, receipt, value, event in group:
            if key in changed:
                state: bytes | None = changed[key][0]
            else:
                as_current(event)
                state = self.states.get(key)
            source = steps.source_of(event)
            if receipt is None:
                new_state, outs = steps.fold_one(state, value, source)
            else:
                new_state, outs = steps.fold_receipt(state, receipt, source)
            if new_state is not None:
                changed[key] = (new_state, event)  # one state write per message per batch
            for out in outs:
                acks.append(await self.send(out))
                self.metrics.emitted(out.topic, out.status)
        await acknowledged(acks)
        for key, (new_state, event) in changed.items():
            as_current(event)
            self.states[key] = new_state
