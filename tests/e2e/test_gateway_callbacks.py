"""The SMS gateways' callbacks end to end: Kannel's dlr-url GET and Jasmin's
HTTP DLR (GET query or POST form) against a running `dlr worker` on the
embedded broker, the status changes read back from dlr.status-changes.
Kannel takes any 200; Jasmin resends a DLR until the body is exactly
`ACK/Jasmin` (jookies/jasmin jasmin/routing/throwers.py), so its answer is
checked byte for byte, for a receipt the worker will dead-letter too (it is
stored: Jasmin must not resend it).

One broker and one worker serve the module (started once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core import samples
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.topics import DEAD_LETTER, STATUS_CHANGES, raw_topic
from tests.e2e.conftest import Form, Reply, raw_end_offsets, request, sent_payload, start_web_worker, wait_ready
from tests.integration.conftest import expect, id_counts, wait_for

pytestmark = pytest.mark.e2e

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what throwers.py sends with a POST


@pytest.fixture(scope="module")
def worker(e2e_broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    running = start_web_worker(e2e_broker, Path(tmp_path_factory.mktemp("worker")), {})
    yield running
    running.stop()


def call(worker: WorkerProcess, form: Form) -> Reply:
    method, path, body, headers = form
    return request(worker.web_port, method, path, body or None, headers)


def kannel_requests() -> list[Form]:
    """smsbox fetches the filled-in dlr-url with GET (gw/smsbox.c: a report is TRANSTYPE_GET_URL)."""
    return [("GET", f"/dlr/kannel?{line.decode()}", b"", {}) for line in samples.lines("kannel")]


def jasmin_requests() -> list[Form]:
    """A message's dlr-method is GET or POST: the samples go both ways, in turn."""
    return [("GET", f"/dlr/jasmin?{line.decode()}", b"", {}) if i % 2 else ("POST", "/dlr/jasmin", line, FORM)
            for i, line in enumerate(samples.lines("jasmin"))]


def test_kannel_and_jasmin_callbacks_reach_the_status_changes(worker: WorkerProcess,
                                                               e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    before = raw_end_offsets(e2e_broker.bootstrap)
    sent: dict[str, list[bytes]] = {"kannel": [], "jasmin": []}
    for provider, forms in (("kannel", kannel_requests()), ("jasmin", jasmin_requests())):
        for form in forms:
            reply = call(worker, form)
            if provider == "jasmin":  # exactly the acknowledgement, or Jasmin sends it again
                assert (reply.status, reply.text) == (200, "ACK/Jasmin"), (form, reply)
                assert reply.headers["content-type"].startswith("text/plain")
            else:
                assert (reply.status, reply.text) == (200, ""), (form, reply)
            sent[provider].append(sent_payload(*form[:3]))
    after = raw_end_offsets(e2e_broker.bootstrap)
    for provider, payloads in sent.items():  # every request was written, to its own raw topic
        topic = raw_topic(provider)
        assert sum(n - before[tp] for tp, n in after.items() if tp[0] == topic) == len(payloads)

    want = expect(sent)
    assert want.ids and want.dead == 2  # each sample file has one bad line
    seen = wait_for(e2e_broker.bootstrap, want, [worker], timeout=60)
    counts = id_counts(seen)  # exactly the offline fold's changes, each once
    assert set(counts) == want.ids and max(counts.values()) == 1
    by_id = {record["id"]: record for record in seen[STATUS_CHANGES]}
    changes = [c for c in want.changes if type(c).__name__ == "StatusChange"]
    for change in changes:
        assert by_id[change.id]["status"] == change.status.value
        assert by_id[change.id]["message_key"] == change.message_key
    reached = {(c.message_key, c.status.value) for c in changes}
    assert {("kannel:smsc-a/3f9a1c07", "DELIVERED"), ("kannel:smsc-b/20260310091500000123", "UNDELIVERED"),
            ("kannel:I:9d0b2f4a-8e1c-4b3d-a5f7-7c9e1b3d5f8a", "REJECTED"), ("kannel:smsc-a/1671112327", "EXPIRED"),
            ("jasmin:16fd2706-8baf-433b-82eb-8c7fada847da", "DELIVERED"),
            ("jasmin:9b7e2c44-1f0a-4d6b-8e35-c2a1f7d09e86", "REJECTED"),
            ("jasmin:d41c8e07-2a9f-4b13-b5e6-0f7a3c9d2e58", "QUEUED")} <= reached
    dead = [r for r in seen[DEAD_LETTER] if r["provider"] in sent]
    assert sorted(r["provider"] for r in dead) == ["jasmin", "kannel"]


def test_what_is_not_stored_is_never_acknowledged(worker: WorkerProcess, e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    before = raw_end_offsets(e2e_broker.bootstrap)
    line = samples.lines("jasmin")[0]
    refused = [
        request(worker.web_port, "PUT", "/dlr/jasmin", line, FORM),  # not a method Jasmin uses
        request(worker.web_port, "POST", "/dlr/jasmin", b"", FORM),  # nothing to store
        request(worker.web_port, "POST", "/dlr/kannel", samples.lines("kannel")[0], FORM),  # Kannel only GETs
        request(worker.web_port, "GET", "/dlr/kannel"),  # no query
    ]
    assert [r.status for r in refused] == [405, 400, 405, 400], refused
    assert all("ACK/Jasmin" not in r.text for r in refused)
    assert raw_end_offsets(e2e_broker.bootstrap) == before, "a refused request was written"
