"""Infobip posts delivery reports in batches: one HTTP request, several
receipts. Through a real worker: the whole post is stored on dlr.raw.infobip
once, each report is folded on its own (a repeated message id included), a
bad report is a dead letter of its own with the whole post as its original,
and its good siblings still come out. Without the configured HTTP Basic
credentials nothing is written."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.ops.tail import to_json
from streams.topics import DEAD_LETTER, STATUS_CHANGES, raw_topic
from tests.e2e.conftest import request, start_web_worker, wait_ready
from tests.e2e.test_mappings_replay import wait_until
from tests.e2e.test_replay import ends, read_topic

pytestmark = pytest.mark.e2e

CREDENTIALS = "infobip-hook:s3cret-pass"


def report(message_id: str, group: str, name: str, done: str, error_id: int = 0) -> dict[str, Any]:
    """A report shaped as Infobip's "Receive outbound SMS message report" example."""
    return {"bulkId": "BULK-E2E", "messageId": message_id, "to": "41793026727",
            "sentAt": "2026-03-10T09:00:00.000+0000", "doneAt": done, "smsCount": 1, "mccMnc": "22801",
            "callbackData": "e2e", "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": {"groupId": 1, "groupName": group, "id": 0, "name": name, "description": ""},
            "error": {"groupId": 1 if error_id else 0, "groupName": "HANDSET_ERRORS" if error_id else "OK",
                      "id": error_id, "name": "", "description": "", "permanent": False}}


@pytest.fixture
def worker(e2e_broker: EmbeddedBroker, tmp_path: Path) -> Iterator[WorkerProcess]:
    started = start_web_worker(e2e_broker, tmp_path / "w", {"DLR_SECRET_INFOBIP": CREDENTIALS})
    try:
        wait_ready(started)
        yield started
    finally:
        started.stop()


def test_a_batch_post_folds_every_report_and_dead_letters_only_the_bad_one(
        e2e_broker: EmbeddedBroker, worker: WorkerProcess) -> None:
    bootstrap = e2e_broker.bootstrap
    run = uuid.uuid4().hex[:8]
    one, two = f"IB-{run}-1", f"IB-{run}-2"
    body = json.dumps({"results": [
        report(one, "PENDING", "PENDING_ENROUTE", "2026-03-10T09:00:01.000+0000"),
        {**report("x", "DELIVERED", "DELIVERED_TO_HANDSET", "2026-03-10T09:00:02.000+0000"), "messageId": None},
        report(one, "DELIVERED", "DELIVERED_TO_HANDSET", "2026-03-10T09:00:05.000+0000"),
        report(two, "UNDELIVERABLE", "UNDELIVERABLE_NOT_DELIVERED", "2026-03-10T09:00:03.000+0000", 27),
    ]}).encode()
    raw_before, dead_before = ends(bootstrap, raw_topic("infobip")), ends(bootstrap, DEAD_LETTER)
    changes_before = ends(bootstrap, STATUS_CHANGES)

    refused = request(worker.web_port, "POST", "/dlr/infobip", body, {"Content-Type": "application/json"})
    assert refused.status == 401, refused
    basic = base64.b64encode(CREDENTIALS.encode()).decode()
    accepted = request(worker.web_port, "POST", "/dlr/infobip", body,
                       {"Content-Type": "application/json", "Authorization": f"Basic {basic}"})
    assert accepted.status == 200, accepted

    def finals() -> dict[str, str] | None:
        found: dict[str, str] = {}
        for record in read_topic(bootstrap, STATUS_CHANGES, changes_before):
            change = to_json(record.value)
            if change["message_key"] in (f"infobip:{one}", f"infobip:{two}"):
                found[change["message_key"]] = change["status"]
        return found if found == {f"infobip:{one}": "DELIVERED", f"infobip:{two}": "UNDELIVERED"} else None

    wait_until("both messages' final changes", finals, [worker])
    raw = read_topic(bootstrap, raw_topic("infobip"), raw_before)
    assert len(raw) == 1  # the post, once, as it came
    letters = [to_json(r.value) for r in read_topic(bootstrap, DEAD_LETTER, dead_before)]
    assert [(d["stage"], d["reason"], d["source_offset"]) for d in letters] == [
        ("normalize", "report 2 of 4: missing field 'messageId'", raw[0].offset)]
    assert body in raw[0].value  # the envelope holds the post unchanged
