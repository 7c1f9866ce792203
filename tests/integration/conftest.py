"""Integration fixtures: a real embedded broker per test, real `dlr worker`
processes. Nothing here skips: a missing broker is a failure."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.core import providers, samples
from streams.core.model import MessageState
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.offline import fold_raw
from streams.ops.produce import produce
from streams.ops.tail import collect
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, STATUS_CHANGES

PARTITIONS = 4
WORKER_ENV = {"DLR_SESSION_TIMEOUT": "8", "DLR_PARTITIONS": str(PARTITIONS)}


@pytest.fixture(params=["noida"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(request.param, data_dir=tmp_path / "broker") as running:
        ensure_topics(running.bootstrap, PARTITIONS)
        yield running


@pytest.fixture
def workers(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Started on demand with `start_worker`; all stopped at the end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def start_worker(workers: list[WorkerProcess], broker: EmbeddedBroker, data_dir: Path,
                 env: dict[str, str] | None = None) -> WorkerProcess:
    worker = WorkerProcess(broker.bootstrap, data_dir, env={**WORKER_ENV, **(env or {})}).start()
    workers.append(worker)
    return worker


@dataclass
class Expected:
    ids: set[str] = field(default_factory=set)
    changes: list[Any] = field(default_factory=list)
    dead: int = 0
    states: dict[str, MessageState] = field(default_factory=dict)
    reports: int = 0  # receipts and dead letters: a line of a batch provider (Infobip) holds several


def expect(lines: dict[str, list[bytes]]) -> Expected:
    """What the offline fold says these raw lines must produce."""
    states, emitted, dead = fold_raw(lines)
    reports = sum(len(providers.normalize_all(p, line)) for p, batch in lines.items() for line in batch)
    return Expected({e.id for e in emitted}, emitted, dead, states, reports)


def feed(bootstrap: str, lines: dict[str, list[bytes]]) -> None:
    for provider, provider_lines in lines.items():
        assert produce(bootstrap, provider, io.BytesIO(b"\n".join(provider_lines)), PARTITIONS) == 0


def wait_for(bootstrap: str, want: Expected, workers: list[WorkerProcess],
             timeout: float = 120.0) -> dict[str, list[dict[str, Any]]]:
    def done(seen: dict[str, list[dict[str, Any]]]) -> bool:
        for worker in workers:
            assert not worker.crashed, f"worker died:\n{worker.log_tail()}"
        got = {r["id"] for r in seen[STATUS_CHANGES] + seen[CHARGE_CHANGES]}
        return got >= want.ids and len(seen[DEAD_LETTER]) >= want.dead

    seen = collect(bootstrap, [STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER], done, timeout)
    got = {r["id"] for r in seen[STATUS_CHANGES] + seen[CHARGE_CHANGES]}
    logs = "\n".join(w.log_tail() for w in workers)
    assert want.ids - got == set(), f"{len(want.ids - got)} changes missing after {timeout}s\n{logs}"
    return seen


def id_counts(seen: dict[str, list[dict[str, Any]]]) -> Counter[str]:
    return Counter(r["id"] for r in seen[STATUS_CHANGES] + seen[CHARGE_CHANGES])


def sample_lines() -> dict[str, list[bytes]]:
    return samples.all_lines()
