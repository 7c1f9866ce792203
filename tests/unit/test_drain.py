"""streams.pipeline.drain: the consumer's stepping wait_first, on a real
mode Service (the class Faust's consumer is built on)."""

from __future__ import annotations

import asyncio

from mode import Service

from streams.pipeline import drain


class Consumer(Service):
    def __init__(self) -> None:
        super().__init__()
        self.slow_path = 0
        original = self.wait_first

        async def counted(*coros: object, timeout: object = None) -> object:
            self.slow_path += 1
            return await original(*coros, timeout=timeout)  # type: ignore[arg-type]

        self.wait_first = counted  # type: ignore[method-assign,assignment]
        drain.install(self)


def test_a_callback_that_never_suspends_makes_no_task() -> None:
    async def scenario() -> tuple[list[str], int, object]:
        consumer = Consumer()
        seen: list[str] = []

        async def callback() -> str:
            seen.append("ran")
            return "done"

        flow = asyncio.Event()
        results = await consumer.wait_first(callback(), flow.wait())
        return seen, consumer.slow_path, results.results

    seen, slow, results = asyncio.run(scenario())
    assert seen == ["ran"] and slow == 0 and results == ["done"]


def test_a_suspended_callback_finishes_under_the_original() -> None:
    async def scenario() -> tuple[list[str], int]:
        consumer = Consumer()
        seen: list[str] = []
        room = asyncio.Event()

        async def callback() -> None:
            seen.append("start")
            await room.wait()  # a full stream buffer
            await asyncio.sleep(0)
            seen.append("end")

        asyncio.get_running_loop().call_later(0.01, room.set)
        await consumer.wait_first(callback(), asyncio.Event().wait())
        return seen, consumer.slow_path

    seen, slow = asyncio.run(scenario())
    assert seen == ["start", "end"] and slow == 1


def test_flow_suspension_still_interrupts_a_stuck_callback() -> None:
    async def scenario() -> list[str]:
        consumer = Consumer()
        seen: list[str] = []
        suspend = asyncio.Event()

        async def callback() -> None:
            try:
                await asyncio.Event().wait()  # never gets room
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.01, suspend.set)
        await asyncio.wait_for(consumer.wait_first(callback(), suspend.wait()), 5)
        await asyncio.sleep(0.01)
        return seen

    assert asyncio.run(scenario()) == ["cancelled"]


def test_an_error_in_the_callback_propagates() -> None:
    async def scenario() -> None:
        consumer = Consumer()

        async def callback() -> None:
            raise ValueError("bad record")

        await consumer.wait_first(callback(), asyncio.Event().wait())

    try:
        asyncio.run(scenario())
    except ValueError as exc:
        assert str(exc) == "bad record"
    else:
        raise AssertionError("the callback's error was swallowed")
