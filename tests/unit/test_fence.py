"""streams.pipeline.fence against a stand-in for the few Faust app attributes
it reads (the real app is exercised by the integration and reliability tests)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from streams.pipeline.fence import Fence


class App:
    def __init__(self) -> None:
        self.rebalancing = False
        self.should_stop = False
        self.started = 0
        self.tables = SimpleNamespace(recovery=SimpleNamespace(completed=asyncio.Event()))
        self.assigned: set[TP] = set()
        self.consumer = SimpleNamespace(assignment=lambda: self.assigned)

    def on_rebalance_start(self) -> None:
        self.started += 1
        self.rebalancing = True


def test_a_rebalance_start_moves_the_epoch_and_still_reaches_faust() -> None:
    app = App()
    fence = Fence(app)
    fence.install()
    app.on_rebalance_start()
    app.on_rebalance_start()
    assert fence.epoch == 2 and app.started == 2 and app.rebalancing


def test_settled_waits_for_the_rebalance_and_the_recovery() -> None:
    async def scenario() -> tuple[bool, int]:
        app = App()
        fence = Fence(app)
        fence.install()
        app.on_rebalance_start()
        waiter = asyncio.ensure_future(fence.settled())
        await asyncio.sleep(0.05)
        early = waiter.done()

        def settle() -> None:
            app.rebalancing = False
            app.tables.recovery.completed.set()

        asyncio.get_running_loop().call_later(0.05, settle)
        return early, await asyncio.wait_for(waiter, 5)

    early, epoch = asyncio.run(scenario())
    assert not early and epoch == 1


def test_a_stopping_worker_cancels_the_wait() -> None:
    async def scenario() -> None:
        app = App()
        app.rebalancing = True
        app.should_stop = True
        await Fence(app).settled()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())


def test_owns_is_the_consumers_assignment() -> None:
    app = App()
    app.assigned = {TP("dlr.raw.smpp", 1)}
    fence = Fence(app)
    assert fence.owns(TP("dlr.raw.smpp", 1)) and not fence.owns(TP("dlr.raw.smpp", 2))
