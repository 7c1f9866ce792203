"""End-to-end fixtures: one real embedded broker and one real `dlr worker`
per test module (started once: the HTTP tests share them), and a plain HTTP
client. The helpers of tests/integration are reused, not copied."""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from streams.admin import client_config, ensure_topics
from streams.broker import EmbeddedBroker
from streams.processes import WorkerProcess
from streams.providers import names
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
