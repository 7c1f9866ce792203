"""streams.worker.acks: which acks reach Faust's consumer, on Faust's own
message class (its ack path: Message.ack -> on_final_ack -> consumer.ack)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types.tuples import ConsumerMessage

from streams.worker.acks import StaleAcks, acked_when_done
from streams.worker.metrics import Metrics


class Flow:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


class Consumer:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: Any) -> bool:
        message.acked = True
        self.acked.append(message.offset)
        return True


def world() -> tuple[Any, Consumer, Metrics]:
    consumer = Consumer()
    app = SimpleNamespace(consumer=consumer, consumer_generation_id=7, flow_control=Flow())
    metrics = Metrics()
    StaleAcks(app, metrics).install()  # type: ignore[arg-type]
    return app, consumer, metrics


def message(offset: int, generation: int) -> ConsumerMessage:
    m = ConsumerMessage("dlr.raw.smpp", 0, offset, 0.0, 0, None, b"k", b"v", None, generation_id=generation)
    m.incref()  # the stream's reference, as Faust takes it on delivery
    return m


def test_a_record_of_the_current_generation_is_acked() -> None:
    app, consumer, metrics = world()
    m = message(10, generation=7)
    assert m.ack(app.consumer) is True
    assert consumer.acked == [10] and metrics.rereads == 0


def test_a_record_fetched_before_the_rebalance_is_not_acked() -> None:
    """What Faust's stream does with a record of an older generation: skips it
    and acks it. The ack must not reach the consumer's commit bookkeeping."""
    app, consumer, metrics = world()
    stale = message(11, generation=6)
    assert stale.ack(app.consumer) is False
    assert consumer.acked == [] and not stale.acked and metrics.rereads == 1
    assert "dlr_rebalance_rereads_total 1" in metrics.render()


def test_no_ack_while_a_rebalance_has_the_flow_stopped() -> None:
    app, consumer, metrics = world()
    app.flow_control.active = False
    assert message(12, generation=7).ack(app.consumer) is False
    app.flow_control.active = True
    assert message(13, generation=7).ack(app.consumer) is True
    assert consumer.acked == [13] and metrics.rereads == 1


def test_a_batch_is_acked_only_when_its_body_finished() -> None:
    app, consumer, _ = world()
    batch = [SimpleNamespace(message=message(o, generation=7)) for o in (1, 2)]
    with acked_when_done(batch):  # type: ignore[arg-type]
        pass  # folded
    for e in batch:  # take_events' finally, after the body
        e.message.ack(app.consumer)
    assert consumer.acked == [1, 2]

    stopped = [SimpleNamespace(message=message(o, generation=7)) for o in (3, 4)]
    with pytest.raises(RuntimeError), acked_when_done(stopped):  # type: ignore[arg-type]
        for e in stopped:  # a stopping stream runs take_events' finally while the body is in the batch
            e.message.ack(app.consumer)
        raise RuntimeError("cancelled mid-batch")
    assert consumer.acked == [1, 2]  # 3 and 4 are read again


def test_the_gate_keeps_folds_out_of_a_rebalance_and_the_rebalance_waits_for_folds() -> None:
    """folding.Gate: what is in finishes before the revoke handler returns;
    nothing gets in while the flow is stopped; records of an older generation
    (Faust's take buffer keeps them across a rebalance) are left out."""
    import asyncio

    from streams.worker.folding import Gate

    def item(offset: int, generation: int) -> Any:
        return (b"k", None, b"v", SimpleNamespace(message=message(offset, generation)))

    async def scenario() -> list[str]:
        app, _, _ = world()
        gate = Gate(app)
        seen: list[str] = []
        old, current = item(1, generation=6), item(2, generation=7)
        assert gate.enter([old, current]) == [current]

        async def revoke() -> None:
            app.flow_control.active = False
            assert gate.enter([current]) is None
            await gate.drained()
            seen.append("recovery may start")

        async def fold_in_flight() -> None:
            await asyncio.sleep(0.01)  # waiting for the broker's acks
            seen.append("states written")
            gate.leave()

        await asyncio.gather(revoke(), fold_in_flight())
        return seen

    assert asyncio.run(scenario()) == ["states written", "recovery may start"]


def test_a_batch_the_gate_kept_out_is_never_acked() -> None:
    """Its acks come after the body, maybe once the flow runs again in the
    same generation: withheld, they never reach the consumer."""
    app, consumer, _ = world()
    batch = [SimpleNamespace(message=message(o, generation=7)) for o in (5, 6)]
    with acked_when_done(batch) as done:  # type: ignore[arg-type]
        done.withhold()
    for e in batch:  # take_events' finally, with the flow active again
        e.message.ack(app.consumer)
    assert consumer.acked == []
