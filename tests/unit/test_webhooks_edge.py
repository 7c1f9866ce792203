"""The webhook edge when the client misbehaves, without a server (found by
tests/reliability/test_webhooks_abuse.py): a client that hangs up mid-body is
a refusal logged at info, never a 500 logged at ERROR; aiohttp's own 400s for
broken HTTP are one INFO line that quotes nothing of the request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
from aiohttp import StreamReader
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.test_utils import make_mocked_request

from streams.worker.metrics import Metrics
from streams.worker.webhooks import _webhook_handler, serverlog
from streams.worker.webhooks.receive import WebhookConfig
from streams.worker.webhooks.routes import ROUTES

PHONE = "4512345678"


class HungUp:
    """A request body whose client closed the connection after the headers (aiohttp's payload then raises)."""

    async def read(self, _n: int = -1) -> bytes:
        raise ConnectionResetError("Connection lost")


class NeverSent:
    async def send(self, **_kwargs: Any) -> Any:
        raise AssertionError("a request cut short was written")


def test_client_hanging_up_mid_body_is_a_refusal_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    handler = _webhook_handler(ROUTES["smpp"], NeverSent(), metrics, WebhookConfig())
    request = make_mocked_request("POST", "/dlr/smpp", {"Content-Type": "text/plain", "Content-Length": "90"},
                                  payload=cast(StreamReader, HungUp()))
    with caplog.at_level(logging.INFO, logger="dlr.webhooks"):
        response = asyncio.run(handler(None, request))
    assert response.status == 400 and "before the body was complete" in (response.text or "")
    assert metrics.webhook_requests[("smpp", 400)] == 1 and ("smpp", 500) not in metrics.webhook_requests
    assert [r.levelno for r in caplog.records if r.name == "dlr.webhooks"] == [logging.INFO]


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[logging.Logger]:
    logger = logging.getLogger(serverlog.LOGGER)
    serverlog.install()
    serverlog.install()  # idempotent
    assert sum(isinstance(f, serverlog.ClientErrorsOneLine) for f in logger.filters) == 1
    try:
        with caplog.at_level(logging.INFO, logger=serverlog.LOGGER):
            yield logger
    finally:
        for f in [f for f in logger.filters if isinstance(f, serverlog.ClientErrorsOneLine)]:
            logger.removeFilter(f)


def test_aiohttp_refusing_broken_http_logs_one_line_without_the_request(
        server_log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    # as aiohttp's RequestHandler.handle_error logs a request it could not parse
    server_log.exception("Error handling request from %s", "10.0.0.7",
                         exc_info=BadHttpMessage(f"Invalid character in chunk size: b'{PHONE}'"))
    [record] = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == "bad HTTP request refused 400: BadHttpMessage (from 10.0.0.7)"
    assert PHONE not in caplog.text and "Traceback" not in caplog.text


def test_other_server_errors_keep_their_traceback(server_log: logging.Logger,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    server_log.exception("Error handling request from %s", "10.0.0.7", exc_info=RuntimeError("a bug"))
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None and "RuntimeError: a bug" in caplog.text
