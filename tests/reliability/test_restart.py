"""Restart recovery (issue item 3): a worker holding 100,000 message states is
stopped and started again; how long until it is back at work, and are the
states it works with intact?

The states are made by the worker itself from one raw receipt per message.
Whether the restarted worker holds them is asked of the worker, not of the
broker: after the restart a sample of messages gets one more receipt each (a
delivery a while later), and the change the worker emits and the state it
writes must be exactly what the offline fold makes of the state before plus
that receipt. A worker that lost a state emits previous=None (or a change
where none is due) and shows it. Done twice: with its own data dir (RocksDB
kept) and with a fresh one (everything recovered from the changelog topic)."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from streams.core.fold import fold
from streams.core.generate import BASE, FORMATS, LIFECYCLES
from streams.core.model import MessageState
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.tail import to_json
from streams.topics import CHARGE_CHANGES, STATUS_CHANGES
from tests.reliability.conftest import Workers
from tests.reliability.harness import (
    Raw,
    change_json,
    end_offsets,
    live_states,
    produce_all,
    raw,
    read_all,
    wait_drained,
    wait_for_ids,
)

pytestmark = pytest.mark.reliability

STATES = 100_000
PROBES = 10_000  # messages asked after each restart
FIRST_ID = 1_000_000
DELIVERED = {"gatewayapi": "DELIVERED", "messente": "DELIVRD", "labsmobile": "Delivered", "vonage": "delivered",
             "smpp": "DELIVRD", "infobip": "DELIVERED_TO_HANDSET", "jasmin": "DELIVRD", "kannel": "1/DELIVRD",
             "sinch": "Delivered", "twilio": "delivered"}


def receipt_line(provider: str, mid: int, step: str, minutes: int) -> bytes:
    word, _, code = step.partition(":")
    return FORMATS[provider](mid, word, code or None, BASE + dt.timedelta(seconds=mid, minutes=minutes))


def filler(n: int, rnd: random.Random) -> list[Raw]:
    """One receipt for each of `n` messages: a random step of a random lifecycle."""
    names = list(FORMATS)
    out = []
    for i in range(n):
        provider = names[i % len(names)]
        step = rnd.choice(rnd.choice(LIFECYCLES[provider]))
        out.append(raw(provider, receipt_line(provider, FIRST_ID + i, step, rnd.randrange(5))))
    assert all(item.receipt is not None for item in out)
    return out


def message_number(provider: str, message_id: str) -> int:
    """The number the generator made `message_id` of (each provider's generate.py)."""
    if provider == "labsmobile":
        return int(message_id.removeprefix("lm"), 16)
    if provider == "sinch":  # <batch id ending in the number, hex>:<recipient>
        return int(message_id.partition(":")[0][-12:], 16)
    return int(message_id[-12:], 16 if provider in ("vonage", "twilio") else 10)


def probe(state: MessageState) -> Raw:
    """One more receipt for the message: delivered, ten minutes in."""
    mid = message_number(state.provider, state.message_id)
    item = raw(state.provider, receipt_line(state.provider, mid, DELIVERED[state.provider], 10))
    assert item.receipt is not None and item.receipt.message_key == state.message_key, (item, state)
    return item


@dataclass
class Restart:
    label: str
    web_s: float
    ready_s: float
    probed: int
    intact: int
    emitted: int
    wrong_changes: int

    def figures(self) -> str:
        return (f"{self.label}: web up {self.web_s:.1f}s, ready {self.ready_s:.1f}s, "
                f"states intact {self.intact}/{self.probed} probed, changes {self.emitted} "
                f"(wrong {self.wrong_changes})")


def change_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    return end_offsets(bootstrap, [STATUS_CHANGES, CHARGE_CHANGES])


def restart(label: str, worker: WorkerProcess, bootstrap: str, states: dict[str, MessageState],
            keys: list[str]) -> Restart:
    """Start `worker`, time it to ready, then probe `keys`; updates `states`."""
    since = change_offsets(bootstrap)
    ready = raw("smpp", receipt_line("smpp", 900 + len(label), "DELIVRD", 0))
    assert ready.receipt is not None
    ready_state, ready_changes = fold(None, ready.receipt)
    started = time.monotonic()
    worker.start()
    produce_all(bootstrap, [ready])
    worker.wait_web(120)
    web_s = time.monotonic() - started
    wait_for_ids(bootstrap, {c.id for c in ready_changes}, since, timeout=180, worker=worker)
    ready_s = time.monotonic() - started
    states[ready_state.message_key] = ready_state

    since = change_offsets(bootstrap)
    expected_changes: dict[str, dict[str, object]] = {}
    expected_states: dict[str, MessageState] = {}
    probes = []
    for key in keys:
        item = probe(states[key])
        assert item.receipt is not None
        expected_states[key], emitted = fold(states[key], item.receipt)
        expected_changes.update((e.id, change_json(e)) for e in emitted)
        probes.append(item)
    produce_all(bootstrap, probes)
    wait_drained(bootstrap, [worker], timeout=240)
    wait_for_ids(bootstrap, set(expected_changes), since, timeout=60, worker=worker)
    live = live_states(bootstrap)
    intact = sum(1 for key in keys if live.get(key) == expected_states[key])
    seen = [to_json(r.value) for r in read_all(bootstrap, [STATUS_CHANGES, CHARGE_CHANGES], since=since)]
    wrong = sum(1 for c in seen if expected_changes.get(str(c["id"])) != c)
    states.update(expected_states)
    return Restart(label, web_s, ready_s, len(keys), intact, len(seen), wrong)


@pytest.mark.timeout(600)
def test_restart_with_100k_states(broker: EmbeddedBroker, workers: Workers,
                                  report: Callable[[str], None]) -> None:
    bootstrap = broker.bootstrap
    rnd = random.Random(3)
    items = filler(STATES, rnd)
    states = {i.receipt.message_key: fold(None, i.receipt)[0] for i in items if i.receipt is not None}
    assert len(states) == STATES

    produce_all(bootstrap, items)
    assert workers.reaper  # the session expiry noida-db lacks
    worker = workers.new("w1")
    started = time.monotonic()
    worker.start()
    wait_drained(bootstrap, [worker], timeout=420)
    filled = time.monotonic() - started
    live = live_states(bootstrap)
    held = sum(1 for k, s in states.items() if live.get(k) == s)
    assert held == STATES, f"the worker holds {held} of {STATES} states before the restart"

    stopping = time.monotonic()
    code = worker.stop(60)
    stop_s = time.monotonic() - stopping

    keys = rnd.sample(sorted(states), 2 * PROBES)
    warm = restart("same data dir", worker, bootstrap, states, keys[:PROBES])
    worker.stop(60)
    cold = restart("fresh data dir", workers.new("w1-fresh"), bootstrap, states, keys[PROBES:])

    report(f"restart: states={STATES} built in {filled:.0f}s ({STATES / filled:.0f}/s), "
           f"stop {stop_s:.1f}s (exit {code})")
    report(f"restart: {warm.figures()}")
    report(f"restart: {cold.figures()}")

    for r in (warm, cold):
        assert r.intact == r.probed, r.figures()
        assert r.wrong_changes == 0, r.figures()
