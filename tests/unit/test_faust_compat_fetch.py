"""streams.worker.faust_compat.fetch: the consumer's stepping wait_first, on
a real mode Service (the class Faust's consumer is built on), paced empty
fetches and the changelog pause mirror."""

from __future__ import annotations

import asyncio

from mode import Service

from streams.worker.faust_compat import fetch as drain


class Consumer(Service):
    def __init__(self) -> None:
        super().__init__()
        self.slow_path = 0
        original = self.wait_first

        async def counted(*coros: object, timeout: object = None) -> object:
            self.slow_path += 1
            return await original(*coros, timeout=timeout)  # type: ignore[arg-type]

        self.wait_first = counted  # type: ignore[method-assign,assignment]
        drain.step_wait_first(self)


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


class Fetcher:
    """aiokafka's Fetcher as `pace_fetcher` sees it: one fetch request."""

    def __init__(self, new_data: bool, takes: float = 0.0) -> None:
        self.new_data = new_data
        self.takes = takes

    async def _proc_fetch_request(self, assignment: object, node_id: object, request: object) -> bool:
        if self.takes:
            drain_clock.now += self.takes
        return self.new_data


class Clock:
    now = 0.0


drain_clock = Clock()


def paced(monkeypatch: object, fetcher: Fetcher, pause: float = 0.002) -> list[float]:
    """The sleeps a paced fetch made, on a clock the test moves."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(drain.time, "monotonic", lambda: drain_clock.now)  # type: ignore[attr-defined]
    monkeypatch.setattr(drain.asyncio, "sleep", sleep)  # type: ignore[attr-defined]
    drain.pace_fetcher(fetcher, pause)
    assert asyncio.run(fetcher._proc_fetch_request(None, 1, None)) is fetcher.new_data
    return slept


def test_an_empty_fetch_answered_at_once_waits_out_the_pause(monkeypatch: object) -> None:
    assert paced(monkeypatch, Fetcher(new_data=False)) == [0.002]


def test_an_empty_fetch_the_broker_held_waits_only_the_rest(monkeypatch: object) -> None:
    slept = paced(monkeypatch, Fetcher(new_data=False, takes=0.0015))
    assert len(slept) == 1 and abs(slept[0] - 0.0005) < 1e-9


def test_an_empty_fetch_held_as_long_as_kafka_holds_one_never_waits(monkeypatch: object) -> None:
    assert paced(monkeypatch, Fetcher(new_data=False, takes=1.5)) == []


def test_a_fetch_with_records_never_waits(monkeypatch: object) -> None:
    assert paced(monkeypatch, Fetcher(new_data=True)) == []


def test_a_paced_fetch_cancelled_in_its_pause_ends_as_aiokafka_own_does() -> None:
    """aiokafka's close() cancels the fetch tasks and awaits them: its own
    fetch returns False when cancelled, and so must the pause."""
    async def scenario() -> object:
        fetcher = Fetcher(new_data=False)
        drain.pace_fetcher(fetcher, pause=60.0)
        task = asyncio.ensure_future(fetcher._proc_fetch_request(None, 1, None))
        await asyncio.sleep(0.01)
        task.cancel()
        return await task

    assert asyncio.run(scenario()) is False


class AioConsumer:
    """aiokafka's consumer as the pause mirror uses it: it refuses anything
    but its own TopicPartition, as aiokafka does."""

    def __init__(self, assigned: set[tuple[str, int]]) -> None:
        self.assigned = assigned
        self.calls: list[tuple[str, str, int]] = []

    def assignment(self) -> set[tuple[str, int]]:
        return self.assigned

    def pause(self, *tps: object) -> None:
        self._record("pause", tps)

    def resume(self, *tps: object) -> None:
        self._record("resume", tps)

    def _record(self, what: str, tps: tuple[object, ...]) -> None:
        from aiokafka import TopicPartition

        for tp in tps:
            if not isinstance(tp, TopicPartition):
                raise TypeError("partitions must be TopicPartition namedtuples")
            self.calls.append((what, tp.topic, tp.partition))


class FaustConsumer:
    """Faust's consumer as the pause mirror wraps it: its own bookkeeping of
    paused partitions, and aiokafka on the consumer thread's loop."""

    def __init__(self, fetching: AioConsumer, loop: asyncio.AbstractEventLoop) -> None:
        self.paused: set[object] = set()
        self._thread = type("Thread", (), {"_consumer": fetching, "thread_loop": loop})()

    def pause_partitions(self, tps: object) -> None:
        self.paused.update(tps)  # type: ignore[call-overload]

    def resume_partitions(self, tps: object) -> None:
        self.paused.difference_update(tps)  # type: ignore[call-overload]

    def _is_changelog_tp(self, tp: tuple[str, int]) -> bool:
        return tp[0].endswith("-changelog")


def test_changelog_partitions_paused_in_faust_are_paused_in_aiokafka_in_order() -> None:
    from faust.types import TP

    async def scenario() -> tuple[FaustConsumer, AioConsumer]:
        log, raw, gone = TP("states-changelog", 0), TP("dlr.raw.smpp", 0), TP("states-changelog", 3)
        fetching = AioConsumer({("states-changelog", 0), ("dlr.raw.smpp", 0)})
        consumer = FaustConsumer(fetching, asyncio.get_running_loop())
        drain.pause_changelogs_in_fetcher(consumer)
        consumer.pause_partitions([log, raw, gone])  # at assignment: everything
        consumer.resume_partitions(tp for tp in [log])  # recovery reads the changelog (a generator, as Faust passes)
        consumer.pause_partitions({log})  # recovered
        consumer.resume_partitions({raw})  # the flow starts
        await asyncio.sleep(0)  # the mirror runs on the consumer thread's loop
        return consumer, fetching

    consumer, fetching = asyncio.run(scenario())
    assert consumer.paused == {TP("states-changelog", 0), TP("states-changelog", 3)}  # Faust's own, unchanged
    # only the assigned changelog partition, in Faust's order; the raw topic is Faust's alone
    assert fetching.calls == [("pause", "states-changelog", 0), ("resume", "states-changelog", 0),
                              ("pause", "states-changelog", 0)]
