"""The webhook receivers end to end: real HTTP requests in each provider's form
against a running `dlr worker` on the embedded broker, the status changes read
back from dlr.status-changes; signatures accepted and refused with secrets
configured on the worker; oversized, non-UTF-8 and wrong-method requests
refused with a one-line reason and nothing written; /health and /metrics.

One broker and one worker serve the whole module (started once, ~3 s)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from streams.core import providers, samples
from streams.core.model import ReceiptError
from streams.core.providers._http import sign_hs256
from streams.core.providers.vonage.webhook import signature as vonage_signature
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.topics import DEAD_LETTER, REPARTITION, STATUS_CHANGES, raw_topic
from tests.e2e.conftest import (
    JSON,
    Form,
    Reply,
    gatewayapi_request,
    raw_end_offsets,
    request,
    sent_payload,
    start_web_worker,
    vonage_request,
    wait_ready,
)
from tests.integration.conftest import PARTITIONS, expect, id_counts, wait_for

pytestmark = pytest.mark.e2e

GWAPI_SECRET = "gatewayapi-token-0123456789"
VONAGE_SECRET = "vonage-signature-secret-0123456789"
MAX_BODY = 4096
ENV = {
    "DLR_SECRET_GATEWAYAPI": GWAPI_SECRET,
    "DLR_SECRET_VONAGE": VONAGE_SECRET,
    "DLR_VONAGE_SIGNATURE_METHOD": "sha256",
    "DLR_MAX_BODY_BYTES": str(MAX_BODY),
}


@pytest.fixture(scope="module")
def worker(e2e_broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    running = start_web_worker(e2e_broker, Path(tmp_path_factory.mktemp("worker")), ENV)
    yield running
    running.stop()


def call(worker: WorkerProcess, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, **kwargs: bool) -> Reply:
    return request(worker.web_port, method, path, body, headers, **kwargs)


def one_line(reply: Reply) -> str:
    lines = reply.text.splitlines()
    assert len(lines) == 1 and lines[0].strip(), reply
    return lines[0]


# --- the requests each provider sends ----------------------------------------------------


def provider_requests() -> dict[str, list[Form]]:
    """Every sample line in the form its provider sends it over HTTP. GatewayAPI's
    SMPP text line is left out: GatewayAPI sends SMPP receipts over SMPP only."""
    out: dict[str, list[Form]] = {}
    out["gatewayapi"] = [gatewayapi_request(line, i, GWAPI_SECRET)
                         for i, line in enumerate(x for x in samples.lines("gatewayapi") if x.startswith(b"{"))]
    out["messente"] = [("POST", "/dlr/messente", line, JSON) if line.startswith(b"{")
                       else ("GET", f"/dlr/messente?{line.decode()}", b"", {})
                       for line in samples.lines("messente")]
    out["labsmobile"] = [("GET", f"/dlr/labsmobile?{line.decode()}", b"", {}) for line in samples.lines("labsmobile")]
    out["vonage"] = [vonage_request(line, i, VONAGE_SECRET) for i, line in enumerate(samples.lines("vonage"))]
    out["smpp"] = [("POST", "/dlr/smpp", line, {"Content-Type": "text/plain"}) for line in samples.lines("smpp")]
    return out


# --- tests -----------------------------------------------------------------------------------


def test_health_turns_ready_after_startup(worker: WorkerProcess) -> None:
    seen = wait_ready(worker)
    for reply in seen[:-1]:  # before ready: 503 with the reason
        assert reply.status == 503 and json.loads(reply.text)["status"] == "not ready", reply
    assert json.loads(seen[-1].text) == {"status": "ready"}
    assert seen[-1].headers["content-type"].startswith("application/json")


def test_every_provider_form_reaches_the_status_changes(worker: WorkerProcess, e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    sent: dict[str, list[bytes]] = {}
    for provider, calls in provider_requests().items():
        for method, path, body, headers in calls:
            reply = call(worker, method, path, body or None, headers)
            assert reply.status == 200 and reply.text == "", (provider, method, reply)
            sent.setdefault(provider, []).append(sent_payload(method, path, body))
    assert set(sent) == {"gatewayapi", "messente", "labsmobile", "vonage", "smpp"}

    want = expect(sent)
    assert want.ids and want.dead == 5  # each sample file has one bad line
    seen = wait_for(e2e_broker.bootstrap, want, [worker], timeout=45)
    counts = id_counts(seen)  # exactly the offline fold's changes, each once
    assert set(counts) == want.ids and max(counts.values()) == 1
    by_id = {record["id"]: record for record in seen[STATUS_CHANGES]}
    for change in want.changes:
        if type(change).__name__ == "StatusChange":
            assert by_id[change.id]["status"] == change.status.value
            assert by_id[change.id]["message_key"] == change.message_key
    # the dead letters carry the envelope written by the webhook: transport http
    assert {r["provider"] for r in seen[DEAD_LETTER]} >= set(sent)


def test_signatures_refused_and_nothing_written(worker: WorkerProcess, e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    body = samples.lines("gatewayapi")[0]
    other = samples.lines("gatewayapi")[3]  # another status of the same message
    good_jwt = sign_hs256(json.loads(body), GWAPI_SECRET)
    vonage_line = samples.lines("vonage")[0].decode() + "&timestamp=1773306851&nonce=abc"
    vonage_sig = vonage_signature(dict(parse_qsl(vonage_line)), VONAGE_SECRET, "sha256")
    vonage_json = {**json.loads(samples.lines("vonage")[2]), "timestamp": "1773306852", "nonce": "def"}
    vonage_json["sig"] = vonage_signature(vonage_json, VONAGE_SECRET, "sha256")

    before = raw_end_offsets(e2e_broker.bootstrap)
    refused = [
        call(worker, "POST", "/dlr/gatewayapi", body, JSON),  # no signature
        call(worker, "POST", "/dlr/gatewayapi", body, {**JSON, "X-Gwapi-Signature": "not.a.jwt"}),
        call(worker, "POST", "/dlr/gatewayapi", body,
             {**JSON, "X-Gwapi-Signature": sign_hs256(json.loads(body), "wrong-secret")}),
        call(worker, "POST", "/dlr/gatewayapi", other, {**JSON, "X-Gwapi-Signature": good_jwt}),  # replayed token
        call(worker, "POST", "/dlr/gatewayapi", body, {**JSON, "Signature": "v1=" + "0" * 64}),
        call(worker, "GET", f"/dlr/vonage?{samples.lines('vonage')[0].decode()}"),  # unsigned
        call(worker, "GET", f"/dlr/vonage?{vonage_line.replace('accepted', 'delivered')}&sig={vonage_sig}"),
        call(worker, "POST", "/dlr/vonage", json.dumps({**vonage_json, "status": "failed"}).encode(), JSON),
    ]
    for reply in refused:
        assert reply.status == 401, reply
        assert "signature refused" in one_line(reply)
    assert raw_end_offsets(e2e_broker.bootstrap) == before, "a refused request was written"

    accepted = [
        call(worker, "POST", "/dlr/gatewayapi", body, {**JSON, "X-Gwapi-Signature": good_jwt}),
        call(worker, "GET", f"/dlr/vonage?{vonage_line}&sig={vonage_sig.upper()}"),
        call(worker, "POST", "/dlr/vonage", json.dumps(vonage_json).encode(), JSON),
    ]
    assert [r.status for r in accepted] == [200, 200, 200], accepted
    after = raw_end_offsets(e2e_broker.bootstrap)
    grown = {tp: after[tp] - before[tp] for tp in after if after[tp] != before[tp]}
    assert sum(grown.values()) == 3 and {t for t, _ in grown} == {"dlr.raw.gatewayapi", "dlr.raw.vonage"}


def test_garbage_refused_with_a_one_line_reason(worker: WorkerProcess, e2e_broker: EmbeddedBroker) -> None:
    wait_ready(worker)
    before = raw_end_offsets(e2e_broker.bootstrap)
    receipt = samples.lines("smpp")[0]

    oversized = call(worker, "POST", "/dlr/smpp", receipt + b" " * MAX_BODY, {"Content-Type": "text/plain"})
    assert oversized.status == 413 and str(MAX_BODY) in one_line(oversized)
    chunks = iter([receipt, b" " * 4000, b" " * 4000])  # no Content-Length: refused while reading
    chunked = request(worker.web_port, "POST", "/dlr/smpp", chunks,
                      {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}, chunked=True)
    assert chunked.status == 413 and str(MAX_BODY) in one_line(chunked)

    latin1_text = receipt.replace(b"Your code", b"C\xf3digo")  # Latin-1, not UTF-8
    latin1 = call(worker, "POST", "/dlr/smpp", latin1_text, {"Content-Type": "text/plain"})
    assert latin1.status == 400 and "UTF-8" in one_line(latin1)
    bad_query = call(worker, "GET", "/dlr/labsmobile?subid=69c3e1a0b7f21&status=Sent&desc=Env%EDado")
    assert bad_query.status == 400 and "UTF-8" in one_line(bad_query)
    empty = call(worker, "POST", "/dlr/smpp", b"", {"Content-Type": "text/plain"})
    assert empty.status == 400 and "empty" in one_line(empty)

    for method, path, allowed in [("GET", "/dlr/gatewayapi", "POST"), ("PUT", "/dlr/vonage", "GET, POST"),
                                  ("DELETE", "/dlr/smpp", "POST"), ("POST", "/dlr/labsmobile", "GET")]:
        wrong = call(worker, method, path, receipt if method != "GET" else None)
        assert wrong.status == 405, (method, path, wrong)
        assert method in one_line(wrong) and wrong.headers["allow"] == allowed

    assert raw_end_offsets(e2e_broker.bootstrap) == before, "a refused request was written"
    assert call(worker, "GET", "/health").status == 200 and worker.alive


def series(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of `name`: their labels (in whatever order the exposition
    writes them) and values."""
    pattern = "^" + re.escape(name) + r"(?:\{(.*)\})? (\S+)$"
    return [(dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or "")), float(m.group(2)))
            for m in re.finditer(pattern, text, re.MULTILINE)]


def metric(text: str, name: str, **labels: str) -> float:
    found = [value for found_labels, value in series(text, name) if found_labels == labels]
    return found[0] if found else 0.0


def test_metrics_show_the_counters_moving(worker: WorkerProcess) -> None:
    wait_ready(worker)
    first = call(worker, "GET", "/metrics")
    assert first.status == 200 and first.headers["content-type"] == CONTENT_TYPE_LATEST
    text = first.text
    assert metric(text, "dlr_ready") == 1
    for provider in ("gatewayapi", "messente", "labsmobile", "vonage", "smpp"):
        assert metric(text, "dlr_webhook_requests_total", provider=provider, code="200") > 0, provider
        assert metric(text, "dlr_receipts_in_total", provider=provider) > 0, provider
        assert metric(text, "dlr_normalized_total", provider=provider) > 0, provider
        assert metric(text, "dlr_dead_lettered_total", stage="normalize", provider=provider) >= 1, provider
        assert metric(text, "dlr_webhook_request_seconds_count", provider=provider) > 0
    assert metric(text, "dlr_webhook_requests_total", provider="gatewayapi", code="401") >= 5
    assert metric(text, "dlr_webhook_requests_total", provider="smpp", code="413") >= 2
    assert metric(text, "dlr_emitted_total", topic=STATUS_CHANGES) > 0
    assert "# TYPE dlr_fold_lag_records gauge" in text

    line = samples.lines("labsmobile")[0].decode()
    assert call(worker, "GET", f"/dlr/labsmobile?{line}").status == 200
    deadline = time.monotonic() + 20
    while True:  # the request counter moves at once; receipts_in once the normalize agent read it
        second = call(worker, "GET", "/metrics").text
        if metric(second, "dlr_receipts_in_total", provider="labsmobile") > metric(
                text, "dlr_receipts_in_total", provider="labsmobile") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert metric(second, "dlr_webhook_requests_total", provider="labsmobile", code="200") == metric(
        text, "dlr_webhook_requests_total", provider="labsmobile", code="200") + 1
    assert metric(second, "dlr_receipts_in_total", provider="labsmobile") == metric(
        text, "dlr_receipts_in_total", provider="labsmobile") + 1

    # Error categories: at least those of the receipts every provider sent above (others came since).
    for (category, provider), n in expected_error_categories().items():
        assert metric(second, "dlr_error_categories_total", category=category, provider=provider) >= n, (
            category, provider)

    # Caught up: every partition of the topics the agents read has a lag series, all 0 once the
    # last offsets are committed (every 2.8 s); the tables are recovered, nothing left to restore.
    topics = {raw_topic(p) for p in providers.names()} | {REPARTITION}
    deadline = time.monotonic() + 20
    while True:
        text = call(worker, "GET", "/metrics").text
        lag = {(labels["topic"], int(labels["partition"])): value for labels, value in series(text, "dlr_consumer_lag")}
        caught_up = set(lag) == {(t, p) for t in topics for p in range(PARTITIONS)} and not any(lag.values())
        if caught_up or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(lag) == {(t, p) for t in topics for p in range(PARTITIONS)}, sorted(lag)
    assert not any(lag.values()), {tp: n for tp, n in lag.items() if n}
    assert [metric(text, "dlr_fold_lag_records", partition=str(p)) for p in range(PARTITIONS)] == [0] * PARTITIONS
    assert series(text, "dlr_table_recovering") == [({}, 0)]
    remaining = series(text, "dlr_table_recovery_remaining")
    assert sorted(remaining, key=lambda s: sorted(s[0].items())) == [  # one worker: every partition active, no standby
        ({"table": "message-state", "partition": str(p), "role": "active"}, 0.0) for p in range(PARTITIONS)]


def expected_error_categories() -> dict[tuple[str, str], int]:
    """(category, provider) -> how many of the receipts the providers' forms carry have it, offline."""
    counts: dict[tuple[str, str], int] = {}
    for provider, calls in provider_requests().items():
        for method, path, body, _ in calls:
            try:
                payload = sent_payload(method, path, body)
                receipt = providers.normalize(provider, payload, providers.Options(received_at=0))
            except ReceiptError:
                continue
            if receipt.error_category is not None:
                key = (receipt.error_category.value, provider)
                counts[key] = counts.get(key, 0) + 1
    assert counts, "the samples carry error categories"
    return counts


def test_only_our_paths_are_served(worker: WorkerProcess) -> None:
    """Faust's built-in views would show anyone who reaches the port a message's
    stored state and the worker's assignment (issue 16, item 4): every path but
    the webhooks, /health and /metrics is 404."""
    wait_ready(worker)
    for method, path in [("GET", "/router/topics"), ("GET", "/router/"), ("GET", "/table/message-state/x/"),
                         ("GET", "/table/message-state-v1/smpp:1/"), ("GET", "/"), ("GET", "/graph/"),
                         ("GET", "/stats/"), ("GET", "/performance/"), ("POST", "/dlr/nobody"),
                         ("GET", "/dlr/")]:
        reply = call(worker, method, path)
        assert reply.status == 404, (method, path, reply.status, reply.text[:200])
        assert "message" not in reply.text and "tp" not in reply.text, reply.text[:200]
    assert call(worker, "GET", "/health").status == 200
    assert call(worker, "GET", "/metrics").status == 200
    assert call(worker, "GET", "/dlr/labsmobile").status == 400  # ours: a receipt is missing, not the path
