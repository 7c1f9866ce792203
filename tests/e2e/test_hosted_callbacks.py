"""Twilio's and Sinch's callbacks end to end: every sample line posted as the
provider posts it (Twilio: a form POST signed with X-Twilio-Signature over
DLR_PUBLIC_URL + path; Sinch: a JSON POST signed with x-sinch-webhook-signature)
to a running `dlr worker` on the embedded broker, and the status changes read
back from dlr.status-changes are exactly the offline fold's; the one bad line
of each sample file is a dead letter. A bad or missing signature is refused
with 401 and a one-line reason, and nothing is written.

One broker and one worker serve the whole module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from streams.core import samples
from streams.core.providers.sinch import webhook as sinch
from streams.core.providers.twilio import webhook as twilio
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.topics import DEAD_LETTER, STATUS_CHANGES
from tests.e2e.conftest import Form, Reply, raw_end_offsets, request, start_web_worker, wait_ready
from tests.integration.conftest import expect, id_counts, wait_for

pytestmark = pytest.mark.e2e

TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"
SINCH_SECRET = "sinch-webhook-secret-0123456789"
PUBLIC_URL = "https://dlr.example.com"  # what Twilio calls; the worker itself listens on 127.0.0.1
ENV = {"DLR_SECRET_TWILIO": TWILIO_TOKEN, "DLR_PUBLIC_URL": PUBLIC_URL, "DLR_SECRET_SINCH": SINCH_SECRET}
FORM = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}


@pytest.fixture(scope="module")
def worker(e2e_broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    running = start_web_worker(e2e_broker, Path(tmp_path_factory.mktemp("worker")), ENV)
    yield running
    running.stop()


def twilio_request(line: bytes, token: str = TWILIO_TOKEN, url: str = f"{PUBLIC_URL}/dlr/twilio") -> Form:
    """Twilio's status callback: the form as the body, X-Twilio-Signature over the URL it
    called and the POST parameters."""
    signature = twilio.signature(url, parse_qsl(line.decode(), keep_blank_values=True), token)
    return "POST", "/dlr/twilio", line, {**FORM, "X-Twilio-Signature": signature}


def sinch_request(line: bytes, index: int, secret: str = SINCH_SECRET) -> Form:
    """Sinch's callback: the JSON report as the body, signed with a nonce and a timestamp."""
    nonce, timestamp = f"01JNONCE{index:018d}", str(1773306000 + index)
    return "POST", "/dlr/sinch", line, {
        "Content-Type": "application/json",
        "x-sinch-webhook-signature-nonce": nonce,
        "x-sinch-webhook-signature-timestamp": timestamp,
        "x-sinch-webhook-signature-algorithm": "HmacSHA256",
        "x-sinch-webhook-signature": sinch.signature(line, nonce, timestamp, secret),
    }


def call(worker: WorkerProcess, form: Form) -> Reply:
    method, path, body, headers = form
    return request(worker.web_port, method, path, body, headers)


def test_signed_callbacks_reach_the_status_changes(worker: WorkerProcess, e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    sent: dict[str, list[bytes]] = {"twilio": samples.lines("twilio"), "sinch": samples.lines("sinch")}
    forms = [twilio_request(line) for line in sent["twilio"]]
    forms += [sinch_request(line, i) for i, line in enumerate(sent["sinch"])]
    for form in forms:
        reply = call(worker, form)
        assert reply.status == 200 and reply.text == "", (form[1], reply)

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
    # What the samples say, as a provider's customer would check it.
    finals = {c.message_key: c.status.value for c in changes if c.final}
    assert finals["twilio:SM1f0e5c2a9b7d44e1a3c6b8d2e4f60002"] == "UNDELIVERED"
    assert finals["twilio:SM1f0e5c2a9b7d44e1a3c6b8d2e4f60003"] == "DELIVERED"  # WhatsApp's read
    assert finals["sinch:01GBA2C1PTBEA4A8HR8TYZ4S0Y:+447700900101"] == "DELIVERED"
    assert finals["sinch:01GBA2C1PTBEA4A8HR8TYZ4S0Y:+447700900102"] == "UNDELIVERED"
    dead = [r for r in seen[DEAD_LETTER] if r["provider"] in sent]
    reasons = sorted(r["reason"] for r in dead)
    assert len(dead) == 2, reasons
    assert "is a batch delivery report" in reasons[0] and "partially_delivered" in reasons[1]


def test_bad_signatures_are_refused_and_nothing_is_written(worker: WorkerProcess,
                                                           e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    line = samples.lines("twilio")[3]
    report = samples.lines("sinch")[5]
    method, path, body, headers = twilio_request(line)
    good_sinch = sinch_request(report, 99)

    before = raw_end_offsets(e2e_broker.bootstrap)
    refused = [
        call(worker, (method, path, body, {k: v for k, v in headers.items() if k != "X-Twilio-Signature"})),
        call(worker, twilio_request(line, token="not-the-auth-token")),
        call(worker, (method, path, body.replace(b"delivered", b"undelivered"), headers)),  # altered after signing
        call(worker, twilio_request(line, url="https://dlr.example.com/other")),  # signed for another URL
        call(worker, (method, path, body, {**headers, "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})),
        call(worker, ("POST", "/dlr/sinch", report, {"Content-Type": "application/json"})),  # unsigned
        call(worker, sinch_request(report, 98, secret="not-the-secret")),
        call(worker, (*good_sinch[:2], report.replace(b"Failed", b"Delivered"), good_sinch[3])),
    ]
    for reply in refused:
        assert reply.status == 401, reply
        lines = reply.text.splitlines()
        assert len(lines) == 1 and "signature refused" in lines[0], reply
        assert TWILIO_TOKEN not in reply.text and SINCH_SECRET not in reply.text
    assert raw_end_offsets(e2e_broker.bootstrap) == before, "a refused request was written"

    accepted = [call(worker, (method, path, body, headers)), call(worker, good_sinch)]
    assert [r.status for r in accepted] == [200, 200], accepted
    after = raw_end_offsets(e2e_broker.bootstrap)
    grown = {tp: after[tp] - before[tp] for tp in after if after[tp] != before[tp]}
    assert sum(grown.values()) == 2 and {t for t, _ in grown} == {"dlr.raw.twilio", "dlr.raw.sinch"}


def test_twilio_signs_the_public_url_not_the_workers(worker: WorkerProcess) -> None:
    """The worker answers on 127.0.0.1:<port>; a signature over that URL is not Twilio's."""
    wait_ready(worker)
    line = samples.lines("twilio")[0]
    local = twilio_request(line, url=f"http://127.0.0.1:{worker.web_port}/dlr/twilio")
    reply = call(worker, local)
    assert reply.status == 401 and "does not match DLR_PUBLIC_URL" in reply.text
