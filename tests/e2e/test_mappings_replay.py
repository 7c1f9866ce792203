"""Issue 17's runbook end to end, as an operator runs it: a vendor status word
no table knows (`stat:DND_REJECTED`) is dead-lettered by a real worker; a
mapping file is written, the worker restarted with DLR_MAPPINGS, and
`dlr replay --dead-letters` turns exactly that dead letter into its status
change, once. The restarted worker reads the word live, and refuses a bad file
at start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.core.fold import change_id
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.tail import to_json
from streams.topics import CHARGE_CHANGES, DEAD_LETTER, STATUS_CHANGES, raw_topic
from tests.e2e.conftest import request, start_web_worker, wait_ready
from tests.e2e.test_replay import ROOT, SETTLE, changes_after, dlr, marks, read_topic, wait_idle

pytestmark = pytest.mark.e2e

MAPPING = """\
# Vendor words our SMSC sends that no table knows (issue 17).
[smpp.statuses]
DND_REJECTED = { status = "REJECTED", final = true }
"""
BAD_MAPPING = '[smpp.statuses]\nDND_REJECTED = { status = "REJECT", final = true }\n'


def receipt(message_id: str, stat: str, minute: int) -> bytes:
    return (f"id:{message_id} sub:001 dlvrd:000 submit date:2603120900 done date:26031209{minute:02d} "
            f"stat:{stat} err:000 text:hello").encode()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def post(worker: WorkerProcess, body: bytes) -> None:
    reply = request(worker.web_port, "POST", "/dlr/smpp", body, {"Content-Type": "text/plain"})
    assert reply.status == 200, reply


def changes_of(bootstrap: str, key: str, after: dict[str, dict[int, int]] | None = None) -> list[dict[str, Any]]:
    since = after or {STATUS_CHANGES: {}, CHARGE_CHANGES: {}}
    return [c for c in changes_after(bootstrap, since)[STATUS_CHANGES] if c["message_key"] == key]


def wait_until(what: str, done: Any, workers: list[WorkerProcess], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        for worker in workers:
            assert not worker.crashed, worker.log_tail()
        found = done()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} after {timeout:.0f}s\n" + "\n".join(w.log_tail() for w in workers)
        time.sleep(0.5)


def dead_letters(bootstrap: str) -> list[dict[str, Any]]:
    return [to_json(r.value) for r in read_topic(bootstrap, DEAD_LETTER)]


def test_a_mapping_and_a_replay_of_the_dead_letters_bring_out_the_status_change(
        e2e_broker: EmbeddedBroker, workers: list[WorkerProcess], tmp_path: Path) -> None:
    bootstrap = e2e_broker.bootstrap
    key = "smpp:DND0001"

    # 1. a worker without mappings: ENROUTE maps, DND_REJECTED is a dead letter
    first = start_web_worker(e2e_broker, tmp_path / "w1", {})
    workers.append(first)
    wait_ready(first)
    post(first, receipt("DND0001", "ENROUTE", 1))
    post(first, receipt("DND0001", "DND_REJECTED", 2))
    wait_until("the SENT change", lambda: changes_of(bootstrap, key), workers)
    letters = wait_until("the dead letter", lambda: dead_letters(bootstrap), workers)
    assert [(d["stage"], d["source_topic"], d["reason"]) for d in letters] == [
        ("normalize", raw_topic("smpp"), "unknown smpp status 'DND_REJECTED'")]
    wait_idle(bootstrap)
    assert [(c["previous"], c["status"]) for c in changes_of(bootstrap, key)] == [(None, "SENT")]

    # 2. the mapping is added and the workers restarted with it; a bad file would stop the start
    mapping = tmp_path / "mappings.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_MAPPING)
    refused = subprocess.run([sys.executable, "-m", "streams", "worker", "--broker", bootstrap],
                             capture_output=True, text=True, cwd=ROOT, timeout=60,
                             env={**os.environ, "DLR_MAPPINGS": str(bad), "DLR_DATA_DIR": str(tmp_path / "refused")})
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [f'dlr worker: DLR_MAPPINGS {bad}: smpp.statuses.DND_REJECTED: status '
                                           '"REJECT" is not one of PENDING, SCHEDULED, QUEUED, SENT, ACCEPTED, '
                                           "UNKNOWN, EXPIRED, SKIPPED, CANCELLED, REJECTED, UNDELIVERED, DELIVERED"]
    mapping.write_text(MAPPING)
    first.stop()
    second = start_web_worker(e2e_broker, tmp_path / "w2", {"DLR_MAPPINGS": str(mapping)})
    workers.append(second)
    wait_ready(second)
    assert f"DLR_MAPPINGS {mapping}: 1 status word(s), 0 error code(s)" in second.log_tail()
    before = marks(bootstrap)

    # 3. the dead letters of the last hour, dry run: the change predicted, nothing written
    dry = dlr("replay", "--broker", bootstrap, "--dead-letters", "--from=-1h", "--dry-run",
              env={"DLR_MAPPINGS": str(mapping)})
    assert dry.code == 0, dry.stderr
    expected = {"id": change_id(key, "status", "REJECTED"), "message_key": key, "previous": "SENT",
                "status": "REJECTED", "final": True}
    predicted = dry.of_type("status_change", "charge_change")
    assert [{k: c[k] for k in expected} for c in predicted] == [expected]
    assert dry.summary["dead_letters"] == {"read": 1, "replayed": 1, "skipped": {}, "unreadable": 0, "gone": 0}
    assert dry.summary["providers"] == {"smpp": {"read": 1, "receipts": 1, "news": 1, "dead_lettered": 0}}
    time.sleep(SETTLE)
    assert marks(bootstrap) == before

    # without the mapping the same replay finds the word still unknown: nothing to do
    unmapped = dlr("replay", "--broker", bootstrap, "--dead-letters", "--from=-1h", "--dry-run",
                   "--mappings", "")
    assert unmapped.code == 0, unmapped.stderr
    assert (unmapped.summary["news"], unmapped.summary["dead_lettered"]) == (0, 1)

    # 4. the replay: exactly that change comes out, once
    run = dlr("replay", "--broker", bootstrap, "--dead-letters", "--from=-1h", "--mappings", str(mapping))
    assert run.code == 0, run.stderr
    assert run.of_type("status_change", "charge_change") == predicted
    s = run.summary
    assert (s["news"], s["status_changes"], s["receipts_written"], s["folded"]) == (1, 1, 1, True)
    assert (s["dead_lettered"], s["dead_letters_written"]) == (0, 0)
    assert "from 1 dead letters on dlr.dead-letter: 1 raw records replayed" in run.stderr
    time.sleep(SETTLE)
    got = changes_after(bootstrap, before)
    assert got[CHARGE_CHANGES] == []
    assert [{k: c[k] for k in expected} for c in got[STATUS_CHANGES]] == [expected]
    after = marks(bootstrap)
    assert after[DEAD_LETTER] == before[DEAD_LETTER]

    # again: already folded, nothing new anywhere
    again = dlr("replay", "--broker", bootstrap, "--dead-letters", "--from=-1h", "--mappings", str(mapping))
    assert again.code == 0, again.stderr
    assert (again.summary["news"], again.summary["status_changes"], again.summary["receipts_written"]) == (0, 0, 0)
    time.sleep(SETTLE)
    assert marks(bootstrap) == after
    assert [c["status"] for c in changes_of(bootstrap, key)] == ["SENT", "REJECTED"]

    # 5. the restarted worker reads the word live: no dead letter, the change at once
    post(second, receipt("DND0002", "DND_REJECTED", 3))
    live = wait_until("the live REJECTED", lambda: changes_of(bootstrap, "smpp:DND0002", after), workers)
    assert [(c["previous"], c["status"], c["final"]) for c in live] == [(None, "REJECTED", True)]
    wait_idle(bootstrap)
    time.sleep(SETTLE)
    assert marks(bootstrap)[DEAD_LETTER] == before[DEAD_LETTER]
