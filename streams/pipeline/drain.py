"""A cheaper hand-off from Faust's fetcher to its streams.

Faust 0.15's consumer hands every fetched message to the streams with
`await self.wait_first(callback(message), self.suspend_flow.wait())`
(faust/transport/consumer.py, `_drain_messages`): four asyncio tasks, an
`asyncio.wait` and three cancellations per message, so that a rebalance that
suspends the flow can interrupt a callback stuck on a full stream buffer. In
the worker profile that was the largest single cost of Faust's own.

Almost every callback finishes without ever suspending (the buffer has room).
`install` gives the consumer a `wait_first` that first runs the callback by
hand up to its first suspension: if it finished, no task was made; if it
suspended, the rest of it runs under Faust's own `wait_first`, against the
flow suspension, exactly as before. Anything else goes to Faust's unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults


class Resumed:
    """The rest of a coroutine that was stepped by hand and suspended on
    `yielded`: awaiting this yields `yielded` to the event loop as the
    coroutine itself would have, then goes on driving the coroutine."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, to_yield = self.coro, self.yielded
        while True:
            try:
                sent = yield to_yield
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation too: into the coroutine, as a task would
                try:
                    to_yield = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    to_yield = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def install(consumer: Any) -> None:
    """Give Faust's consumer the stepping `wait_first` (an instance attribute:
    the consumer looks the method up per message)."""
    original = consumer.wait_first

    async def wait_first(*coros: Any, timeout: Any = None) -> Any:
        if len(coros) != 2 or timeout is not None or not inspect.iscoroutine(coros[0]):
            return await original(*coros, timeout=timeout)
        callback, other = coros
        try:
            yielded = callback.send(None)
        except BaseException as exc:  # finished (StopIteration) or failed: `other` never starts
            if inspect.iscoroutine(other):
                other.close()  # no "never awaited" warning
            if isinstance(exc, StopIteration):
                return WaitResults([callback], [exc.value], False)
            raise
        return await original(Resumed(callback, yielded), other)

    consumer.wait_first = wait_first
