"""Reliability fixtures: a real embedded broker per test and real `dlr worker`
processes (as in tests/integration), plus the figures every test reports.

Nothing here skips: a missing broker is a failure. Each test hands its counts
and timings to `report`, which prints them (`-s` shows them as they come) and
keeps them for the "reliability figures" section at the end of every run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.kafka.admin import ensure_topics
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from tests.reliability.harness import PARTITIONS, RELIABILITY_ENV, SESSION_TIMEOUT, SessionReaper

FIGURES = "reliability figures"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker("noida", data_dir=tmp_path / "broker") as running:
        ensure_topics(running.bootstrap, PARTITIONS)
        yield running


class Workers:
    """Worker processes of one test; every one still running is stopped at the
    end. `reaper` (started on first use) expires the group sessions of workers
    that died or gave their member id up, which noida-db never does."""

    def __init__(self, broker: EmbeddedBroker, root: Path) -> None:
        self.broker = broker
        self.root = root
        self.all: list[WorkerProcess] = []
        self._reaper: SessionReaper | None = None

    @property
    def reaper(self) -> SessionReaper:
        if self._reaper is None:
            self._reaper = SessionReaper(self.broker.bootstrap, SESSION_TIMEOUT, self.all)
            self._reaper.start()
        return self._reaper

    def new(self, name: str, env: dict[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(self.broker.bootstrap, self.root / name, env={**RELIABILITY_ENV, **(env or {})})
        self.all.append(worker)
        return worker

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {w.data_dir.name}\n{w.log_tail(lines)}" for w in self.all)

    def stop_all(self) -> None:
        if self._reaper is not None:
            self._reaper.stop()
        for worker in self.all:
            worker.stop()


@pytest.fixture
def workers(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(broker, tmp_path / "workers")
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Print a line of figures now and again in the run's summary."""

    def emit(line: str) -> None:
        print(line, flush=True)
        request.node.user_properties.append((FIGURES, line))

    return emit


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines: list[str] = []
    for outcome in ("passed", "failed", "xfailed", "xpassed", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", None) != "call":
                continue
            name = rep.nodeid.rsplit("::", 1)[-1]
            lines += [f"{name} [{outcome}]: {value}"
                      for key, value in getattr(rep, "user_properties", []) if key == FIGURES]
    if lines:
        terminalreporter.section(FIGURES)
        for line in lines:
            terminalreporter.write_line(line)
