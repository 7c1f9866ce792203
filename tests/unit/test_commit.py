"""streams.worker.commit and the fence's ack overrides: which records a batch
processes, in which order its steps run, and which acks reach Faust's
consumer. On Faust's own message class (its ack path: Message.ack ->
on_final_ack -> consumer.ack) and a real Faust memory-store table, with a fake
consumer and outbox; tests/reliability proves the same on the real broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.core import providers
from streams.topics import RECEIPTS, STATUS_CHANGES
from streams.worker.commit import Admission, CommitProtocol, Gate, Item
from streams.worker.faust_compat.acks import AckHold, CommitCap, StaleAcks
from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics

RAW = "dlr.raw.smpp"
GENERATION = 7


class Flow:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


class Consumer:
    """What the fence wraps of Faust's consumer: its ack and its commit."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.commits: list[dict[Any, int]] = []

    def ack(self, message: Any) -> bool:
        message.acked = True
        self.acked.append(message.offset)
        return True

    async def _commit_offsets(self, offsets: Any, start_new_transaction: bool = True) -> bool:
        self.commits.append(dict(offsets))
        return True


class Event:
    """A Faust event as the agents see it (weak-referenceable, as Faust's is)."""

    def __init__(self, message: ConsumerMessage) -> None:
        self.message = message
        self.key = message.key
        self.value = message.value


def world(ledger: OffsetLedger[Any] | None = None) -> tuple[Any, Consumer, Admission, Metrics]:
    consumer = Consumer()
    app = SimpleNamespace(consumer=consumer, consumer_generation_id=GENERATION, flow_control=Flow())
    metrics = Metrics()
    admission = Admission(app, ledger or OffsetLedger(), metrics)
    StaleAcks(consumer, admission.is_current, admission.stale, ledger, frozenset([RAW])).install()
    return app, consumer, admission, metrics


def message(offset: int, generation: int = GENERATION, partition: int = 0, value: bytes = b"v") -> ConsumerMessage:
    m = ConsumerMessage(RAW, partition, offset, 0.0, 0, None, b"k", value, None, generation_id=generation)
    m.incref()  # the stream's reference, as Faust takes it on delivery
    return m


def take_events_finally(events: list[Event], consumer: Consumer) -> None:
    """What Faust's take_events does after the body: drop its reference (ack)."""
    for e in events:
        e.message.ack(consumer)


# --- the one decision: is a record current ---------------------------------

def test_a_record_of_the_current_generation_is_acked() -> None:
    app, consumer, _, metrics = world()
    assert message(10).ack(app.consumer) is True
    assert consumer.acked == [10] and metrics.rereads == 0


def test_a_record_fetched_before_the_rebalance_is_not_acked() -> None:
    """What Faust's stream does with a record of an older generation: skips it
    and acks it. The ack must not reach the consumer's commit bookkeeping."""
    app, consumer, _, metrics = world()
    stale = message(11, generation=GENERATION - 1)
    assert stale.ack(app.consumer) is False
    assert consumer.acked == [] and not stale.acked and metrics.rereads == 1
    assert "dlr_rebalance_rereads_total 1" in metrics.render()


def test_no_ack_while_a_rebalance_has_the_flow_stopped() -> None:
    app, consumer, _, metrics = world()
    app.flow_control.active = False
    assert message(12).ack(app.consumer) is False
    app.flow_control.active = True
    assert message(13).ack(app.consumer) is True
    assert consumer.acked == [13] and metrics.rereads == 1


def test_admission_keeps_out_older_generations_and_records_past_a_missing_one() -> None:
    ledger: OffsetLedger[Any] = OffsetLedger()
    _app, consumer, admission, _ = world(ledger)
    tp = message(0).tp
    ledger.sought(tp, 100)
    events = [Event(message(100)), Event(message(101, generation=GENERATION - 1)), Event(message(102)),
              Event(message(104))]  # 103 never came: 104 waits for it
    held = AckHold(events)
    admitted = admission.admit(events, held)
    assert [e.message.offset for e in admitted] == [100]
    held.release()
    take_events_finally(events, consumer)
    assert consumer.acked == [100]  # the rest is read again, in order


# --- acks held until the protocol releases them --------------------------------

def test_a_batch_is_acked_only_when_released() -> None:
    _app, consumer, _, _ = world()
    batch = [Event(message(o)) for o in (1, 2)]
    AckHold(batch).release()
    take_events_finally(batch, consumer)
    assert consumer.acked == [1, 2]

    stopped = [Event(message(o)) for o in (3, 4)]
    AckHold(stopped)  # never released: the body was cancelled mid-batch
    take_events_finally(stopped, consumer)  # a stopping stream runs take_events' finally
    assert consumer.acked == [1, 2]  # 3 and 4 are read again


# --- the gate between folds and a rebalance ------------------------------------

def test_the_gate_keeps_folds_out_of_a_rebalance_and_the_rebalance_waits_for_folds() -> None:
    """What is in finishes before the revoke handler returns; nothing gets in
    while the flow is stopped; records of an older generation (Faust's take
    buffer keeps them across a rebalance) are left out."""

    def item(offset: int, generation: int) -> Item:
        return Item(b"k", None, b"v", Event(message(offset, generation)))

    async def scenario() -> list[str]:
        app, _, admission, _ = world()
        gate = Gate(app, admission)
        seen: list[str] = []
        old, current = item(1, generation=GENERATION - 1), item(2, generation=GENERATION)
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


# --- a batch's steps, in order -----------------------------------------------

class Outbox:
    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name
        self.offsets: dict[int, int] = {}
        self.fail = False

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int = -1,
                   track: bool = False) -> None:
        self.log.append(f"{self.name} send {topic}")
        if track:
            self.offsets[partition] = self.offsets.get(partition, -1) + 1

    async def delivered(self) -> None:
        await asyncio.sleep(0)
        self.log.append(f"{self.name} delivered")
        if self.fail:
            raise RuntimeError("broker refused")


def protocol_world() -> tuple[Any, Consumer, CommitProtocol, list[str], Any]:
    app, consumer, _, metrics = world()
    table = faust.App("dlr-test-commit", store="memory://").Table(
        "message-state", default=None, key_type=bytes, value_type=bytes, partitions=1)
    log: list[str] = []
    protocol = CommitProtocol(app, table, metrics, lambda: Outbox(log, "outputs"),
                              lambda: Outbox(log, "changelog"), OffsetLedger())  # type: ignore[arg-type,return-value]
    protocol.admission.app = app
    protocol.gate.app = app
    return app, consumer, protocol, log, table


SMPP = (b"id:20260310091500000123 sub:001 dlvrd:000 submit date:260310091500 done date:260310091731"
        b" stat:UNDELIV err:001 text:Hej")


def smpp_receipt() -> Any:
    return providers.normalize("smpp", SMPP)


async def normalize_work(events: list[Any], outbox: Any) -> list[Item]:
    items = []
    for e in events:
        receipt = smpp_receipt()
        await outbox.send(RECEIPTS, receipt.message_key.encode(), b"receipt")
        items.append(Item(receipt.message_key.encode(), receipt, None, e))
    return items


def test_a_batch_emits_and_waits_then_writes_state_and_waits_then_releases() -> None:
    _app, consumer, protocol, log, table = protocol_world()
    events = [Event(message(0))]
    asyncio.run(protocol.run(events, normalize_work))
    assert log == [
        f"outputs send {RECEIPTS}",  # 2. normalize
        f"outputs send {STATUS_CHANGES}",  # 3. fold: the change
        "outputs delivered",  # 4. every output acknowledged
        f"changelog send {protocol.changelog_topic}",  # 5. the state onto the changelog ...
        "changelog delivered",  # ... acknowledged
    ]
    key = smpp_receipt().message_key.encode()
    assert table.data.data[key]  # 5. the state is in the store
    take_events_finally(events, consumer)
    assert consumer.acked == [0]  # 6. released


def test_a_failed_output_stops_the_worker_before_anything_is_written_or_acked(monkeypatch: Any) -> None:
    _app, consumer, protocol, log, table = protocol_world()
    failing = Outbox(log, "outputs")
    failing.fail = True
    protocol.outbox = lambda: failing  # type: ignore[assignment,return-value]
    stopped: list[str] = []

    def stop(why: str) -> None:
        stopped.append(why)
        raise SystemExit(70)

    monkeypatch.setattr("streams.worker.commit.stop", stop)
    events = [Event(message(0))]
    with pytest.raises(SystemExit):
        asyncio.run(protocol.run(events, normalize_work))
    assert stopped and "a write to Kafka failed" in stopped[0]
    assert not table.data.data and "changelog send" not in " ".join(log)
    take_events_finally(events, consumer)
    assert consumer.acked == []


def test_a_batch_overtaken_by_a_rebalance_is_not_folded_nor_acked() -> None:
    app, consumer, protocol, log, table = protocol_world()

    async def work_then_rebalance(events: list[Any], outbox: Any) -> list[Item]:
        items = await normalize_work(events, outbox)
        app.flow_control.active = False  # the rebalance stops the flow while step 2 awaited
        return items

    events = [Event(message(0))]
    asyncio.run(protocol.run(events, work_then_rebalance))
    assert log == [f"outputs send {RECEIPTS}", "outputs delivered"]  # what step 2 sent is still awaited
    assert not table.data.data
    app.flow_control.active = True
    take_events_finally(events, consumer)
    assert consumer.acked == []


def test_a_body_that_raises_leaves_the_batch_unacked() -> None:
    _app, consumer, protocol, _, _ = protocol_world()

    async def broken(events: list[Any], outbox: Any) -> list[Item]:
        raise RuntimeError("bug")

    events = [Event(message(0))]
    with pytest.raises(RuntimeError):
        asyncio.run(protocol.run(events, broken))
    take_events_finally(events, consumer)
    assert consumer.acked == []


# --- what may be committed --------------------------------------------------

def test_commits_are_capped_at_what_the_ledger_vouches_for() -> None:
    ledger: OffsetLedger[Any] = OffsetLedger()
    consumer = Consumer()
    CommitCap(consumer, ledger, frozenset([RAW])).install()
    tp = message(0).tp
    other = TP("dlr-streams-message-state-changelog", 0)
    ledger.sought(tp, 0)
    ledger.fetched(tp, [0, 1, 2])
    ledger.acked(tp, 0)
    ledger.acked(tp, 2)  # 1 was fetched and dropped on the way: never processed
    assert asyncio.run(consumer._commit_offsets({tp: 3, other: 9})) is True
    assert consumer.commits == [{tp: 1, other: 9}]  # held at 1; topics it does not track pass
