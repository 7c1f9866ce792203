"""Rebalances as the fold sees them.

A rebalance can start while a batch is out (its outputs on the way to the
broker, its states not written yet). Faust then re-runs table recovery, which
writes changelog records back into the local store, and may hand partitions
to another worker. Two things could go wrong with the batch in hand:

- its states were read before recovery wrote the store again, and recovery
  can put back an older state after the batch wrote a newer one (found by the
  kill -9 test: final states behind their last receipt);
- its partition may now belong to another worker, which recovers from a
  changelog that does not have the batch's states yet.

The fence gives the fold an epoch that moves when a rebalance starts, a way to
wait until the worker is settled again (assigned and recovered), and whether a
source partition is still this worker's. `Folder` uses them to fold again
what it folded across a rebalance, and to leave alone what moved away (its
offsets are not committed here: the new owner reads those receipts again).

Faust 0.15 signals a rebalance's start only by calling
`App.on_rebalance_start()` from its consumer thread (as early as it can);
`install` wraps that method on the app instance.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

SETTLE_POLL = 0.02  # seconds between looks while a rebalance or recovery runs


class Fence:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.epoch = 0

    def install(self) -> None:
        started = self.app.on_rebalance_start

        def on_rebalance_start() -> None:
            self.epoch += 1  # first: Faust calls this before anything else of the rebalance
            started()

        self.app.on_rebalance_start = on_rebalance_start

    def settled_now(self) -> bool:
        return not self.app.rebalancing and self.app.tables.recovery.completed.is_set()

    async def settled(self) -> int:
        """Once the worker is assigned and its tables recovered: the epoch
        then. A stopping worker cancels the wait (the batch in hand is then
        not acked, and is read again after restart)."""
        while not self.settled_now():
            if self.app.should_stop:
                raise asyncio.CancelledError("worker stopping during a rebalance")
            await asyncio.sleep(SETTLE_POLL)
        return self.epoch

    def owns(self, tp: TP) -> bool:
        return tp in self.app.consumer.assignment()
