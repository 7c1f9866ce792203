"""End-to-end fixtures: one real embedded broker and one real `dlr worker`
per test module (started once: the HTTP tests share them), a plain HTTP
client, and each signing provider's request form (also used by
tests/reliability/test_webhooks_abuse.py). The helpers of tests/integration
are reused, not copied."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from streams.core.providers import names
from streams.core.providers._http import hmac_sha256_hex, sign_hs256
from streams.core.providers.vonage.webhook import signature as vonage_signature
from streams.kafka.admin import client_config, ensure_topics
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.topics import raw_topic
from tests.integration.conftest import PARTITIONS, WORKER_ENV


@pytest.fixture(scope="module")
def e2e_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker("noida", data_dir=tmp_path_factory.mktemp("broker")) as running:
        ensure_topics(running.bootstrap, PARTITIONS)
        yield running


def start_web_worker(broker: EmbeddedBroker, data_dir: Path, env: dict[str, str]) -> WorkerProcess:
    worker = WorkerProcess(broker.bootstrap, data_dir, env={**WORKER_ENV, **env}).start()
    try:
        worker.wait_web()
    except Exception:
        worker.stop()
        raise
    return worker


class Reply:
    def __init__(self, status: int, text: str, headers: dict[str, str]) -> None:
        self.status, self.text, self.headers = status, text, headers

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.text!r})"


def request(port: int, method: str, path: str, body: bytes | Iterable[bytes] | None = None,
            headers: dict[str, str] | None = None, *, chunked: bool = False) -> Reply:
    """One HTTP request on a fresh connection, as a provider would send it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return Reply(response.status, text, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def wait_ready(worker: WorkerProcess, timeout: float = 60.0) -> list[Reply]:
    """/health until it answers 200 (partitions assigned, tables recovered); every answer seen."""
    seen: list[Reply] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.alive, worker.log_tail()
        seen.append(request(worker.web_port, "GET", "/health"))
        if seen[-1].status == 200:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"/health not 200 after {timeout}s: {seen[-1]}\n{worker.log_tail()}")


# --- the requests signing providers send: (method, path, body, headers) --------------------

Form = tuple[str, str, bytes, dict[str, str]]
JSON = {"Content-Type": "application/json"}


def gatewayapi_request(line: bytes, index: int, secret: str) -> Form:
    """GatewayAPI POSTs JSON; REST webhooks sign with a JWT of the same fields in
    X-Gwapi-Signature, the messaging API with Signature: v1=<HMAC of the body>."""
    if index % 2 == 0:
        headers = {**JSON, "X-Gwapi-Signature": sign_hs256(json.loads(line), secret)}
    else:
        headers = {**JSON, "Signature": "v1=" + hmac.new(secret.encode(), line, hashlib.sha256).hexdigest()}
    return "POST", "/dlr/gatewayapi", line, headers


def messente_request(line: bytes, secret: str) -> Form:
    """Messente's Omnichannel reports: JSON signed in X-Messente-Signature."""
    return "POST", "/dlr/messente", line, {**JSON, "X-Messente-Signature": hmac_sha256_hex(secret, line)}


def vonage_request(line: bytes, index: int, secret: str, method: str = "sha256") -> Form:
    """Vonage signed callbacks add timestamp, nonce and sig to the fields, in
    the query of a GET or the JSON of a POST."""
    extra = {"timestamp": str(1773306000 + index), "nonce": f"n{index:04d}"}
    if line.startswith(b"{"):
        fields = {**json.loads(line), **extra}
        fields["sig"] = vonage_signature(fields, secret, method)
        return "POST", "/dlr/vonage", json.dumps(fields).encode(), JSON
    query = line.decode() + "".join(f"&{k}={v}" for k, v in extra.items())
    sig = vonage_signature(dict(parse_qsl(query, keep_blank_values=True)), secret, method)
    return "GET", f"/dlr/vonage?{query}&sig={sig}", b"", {}


def sent_payload(method: str, path: str, body: bytes) -> bytes:
    """What the parser will read: a GET's query, a POST's body."""
    return path.partition("?")[2].encode() if method == "GET" else body


def raw_end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    """The end offset of every partition of every raw topic."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(client_config(bootstrap, {"group.id": "dlr-e2e-offsets", "enable.auto.commit": False}))
    try:
        return {
            (raw_topic(p), partition): consumer.get_watermark_offsets(
                TopicPartition(raw_topic(p), partition), timeout=10, cached=False)[1]
            for p in names() for partition in range(PARTITIONS)
        }
    finally:
        consumer.close()
