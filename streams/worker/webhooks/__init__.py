"""The worker's HTTP endpoints on Faust's web server: one webhook receiver per
provider (`routes.ROUTES`, at /dlr/<provider>), /health and /metrics.

A webhook request is checked (method, size, UTF-8, signature), written
unchanged to dlr.raw.<provider> as a RawReceipt envelope (keyed by message key,
see `receive.record_key`), and answered 2xx only once the broker has
acknowledged the write: Faust's `Topic.send` returns
the producer's delivery future (aiokafka's, resolved by the produce response,
with acks=all by Faust's default `producer_acks=-1`), which is awaited. A write
that fails or outlasts `webhook_timeout` is answered 503 so the provider
retries; a retry of a receipt that did land is harmless (the fold is
idempotent). Refusals write nothing.

Nothing of a payload is logged (payloads carry phone numbers): a log line
names the provider, method, status, reason and remote address only, and an
unexpected error is logged by its type alone (its message could quote a
payload) and answered 500, which the provider retries. A client that hangs
up before its body is complete sent a body cut short: a refusal (400, logged
at info, counted as 400), not an error of ours."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, cast

import faust
from aiohttp import web
from faust.web import View

from streams.core.providers._http import Incoming, SignatureError
from streams.topics import raw_topic
from streams.worker import faust_compat
from streams.worker.metrics import CONTENT_TYPE, Labels, Metrics
from streams.worker.webhooks import health, receive, serverlog
from streams.worker.webhooks.receive import Refused, WebhookConfig
from streams.worker.webhooks.routes import ROUTES, Route

__all__ = ["register"]

log = logging.getLogger("dlr.webhooks")

_RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
_ALL_METHODS = ("get", "post", "put", "patch", "delete")
# Every path the worker serves.
PATHS = (*(route.path for route in ROUTES.values()), "/health", "/metrics")


def only_paths(paths: frozenset[str]) -> Any:
    """An aiohttp middleware that answers 404 for any path but `paths`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path not in paths and request.path.rstrip("/") not in paths:
            return web.Response(status=404, text="not found\n")
        return cast(web.StreamResponse, await handler(request))

    return middleware


def register(app: faust.App, metrics: Metrics, config: WebhookConfig | None = None) -> None:
    """Add the webhook, /health and /metrics views to the app's web server."""
    config = config or WebhookConfig.from_settings()
    for route in ROUTES.values():
        topic = app.topic(raw_topic(route.provider), **_RAW)
        app.page(route.path, name=f"dlr-webhook-{route.provider}")(
            _view(_webhook_handler(route, topic, metrics, config)))
    app.page("/health", name="dlr-health")(_view(_health))
    app.page("/metrics", name="dlr-metrics")(_view(_metrics_handler(metrics)))
    # Faust's own views (/router, /table/<table>/<key>, the index) would tell
    # anyone who reaches the port a message's state and the worker's
    # assignment: only the paths above are served, every other one is 404.
    faust_compat.web_application(app).middlewares.append(only_paths(frozenset(PATHS)))
    serverlog.install()  # aiohttp's own 400s for broken HTTP: one line, no traceback quoting the request
    if config.secrets:
        log.info("webhook signatures checked for: %s", ", ".join(sorted(config.secrets)))


Handler = Any  # async (view, request) -> web.Response


def _view(handler: Handler) -> type:
    """A Faust View answering every method with `handler`: the handler decides
    what is allowed, so a wrong method gets our 405 with its reason."""

    async def respond(self: Any, request: web.Request, **_kwargs: Any) -> web.StreamResponse:
        return await handler(self, request)  # type: ignore[no-any-return]

    return type("DlrView", (View,), dict.fromkeys(_ALL_METHODS, respond))


def _text(status: int, text: str, headers: dict[str, str] | None = None,
          content_type: str = "text/plain") -> web.Response:
    return web.Response(status=status, text=text, content_type=content_type, headers=headers)


def _webhook_handler(route: Route, topic: Any, metrics: Metrics, config: WebhookConfig) -> Handler:
    async def handle(_view: Any, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            response = await _receive(route, topic, config, request)
        except Refused as refused:
            log.info("webhook %s %s refused %d: %s (from %s)", route.provider, request.method, refused.status,
                     refused.reason, request.remote)
            response = _text(refused.status, refused.reason + "\n", refused.headers)
        except Exception as exc:  # a bug: no traceback, whose message could quote the payload
            log.error("webhook %s %s failed: %s (from %s)", route.provider, request.method, type(exc).__name__,
                      request.remote)
            response = _text(500, f"internal error ({type(exc).__name__}); retry\n")
        metrics.webhook(route.provider, response.status, time.perf_counter() - started)
        return response

    return handle


async def _receive(route: Route, topic: Any, config: WebhookConfig, request: web.Request) -> web.Response:
    received_at = time.time_ns() // 1000
    receive.check_method(request.method, route.methods, route.path)
    body = b""
    if request.method == "POST":
        body = await _read_body(request, config.max_body_bytes)
    incoming = Incoming(
        method=request.method, path=request.path, query=request.rel_url.raw_query_string,
        headers={name.lower(): value for name, value in reversed(list(request.headers.items()))},
        body=body, remote_addr=request.remote, received_at=received_at,
    )
    payload = receive.payload(incoming, config.max_body_bytes)
    try:
        route.verify(incoming, config)
    except SignatureError as exc:
        raise Refused(401, f"{route.provider} signature refused: {exc}") from None
    value = receive.envelope_value(route.provider, incoming, payload)
    key = receive.record_key(route.provider, payload)
    try:
        await asyncio.wait_for(_write(topic, key, value), config.timeout)
    except TimeoutError:
        log.warning("webhook %s: Kafka did not acknowledge within %.1fs; answered 503", route.provider,
                    config.timeout)
        raise Refused(503, f"receipt not stored: Kafka did not acknowledge within {config.timeout:g}s; retry",
                      {"Retry-After": "5"}) from None
    except Exception as exc:
        log.warning("webhook %s: Kafka write failed (%s); answered 503", route.provider, type(exc).__name__)
        raise Refused(503, f"receipt not stored: Kafka write failed ({type(exc).__name__}); retry",
                      {"Retry-After": "5"}) from None
    return _text(route.ok_status, route.ok_body, content_type=route.ok_content_type)


async def _write(topic: Any, key: bytes | None, value: bytes) -> None:
    """Produce and wait for the broker's acknowledgement. `force=True` skips
    Faust's attachments (a send inside an agent's event waits for its commit);
    `send` returns aiokafka's delivery future, which resolves with the record's
    metadata when the produce request is acked, or raises."""
    delivery = await topic.send(key=key, value=value, force=True)
    await delivery


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    receive.check_length(request.content_length, max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.read(65536)
        except ConnectionError:  # the client hung up mid-body: a body cut short, not a bug of ours
            raise Refused(400, "connection closed before the body was complete") from None
        except Exception as exc:  # a malformed chunked encoding, a body cut short
            raise Refused(400, f"body could not be read ({type(exc).__name__})") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise Refused(413, f"body over the limit of {max_bytes} bytes")
        chunks.append(chunk)


async def _health(view: Any, request: web.Request) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        return _text(405, f"method {request.method} not allowed on /health; use GET\n", {"Allow": "GET"})
    ready, reason = health.readiness(view.app)
    body = {"status": "ready"} if ready else {"status": "not ready", "reason": reason}
    return _text(200 if ready else 503, json.dumps(body) + "\n", content_type="application/json")


def _metrics_handler(metrics: Metrics) -> Handler:
    async def handle(view: Any, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return _text(405, f"method {request.method} not allowed on /metrics; use GET\n", {"Allow": "GET"})
        text = metrics.render(_gauges(view.app))
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    return handle


def _gauges(app: Any) -> list[tuple[str, str, dict[Labels, float]]]:
    """The values read at scrape time; each family is empty (HELP and TYPE
    only) while the worker cannot tell, e.g. before its consumer started."""
    ready, _ = health.readiness(app)
    lag = health.consumer_lag(app)
    recovering = health.recovering(app)
    return [
        ("dlr_ready", "1 when partitions are assigned and tables recovered (as /health).", {(): 1 if ready else 0}),
        ("dlr_consumer_lag", "Records not yet processed and committed, by topic and partition: high watermark "
         "minus committed offset, for the partitions of the raw and repartition topics assigned to this worker.",
         {(("topic", t), ("partition", str(p))): n for (t, p), n in lag.items()}),
        ("dlr_fold_lag_records", "Records not yet normalized, folded and committed, by partition: "
         "dlr_consumer_lag summed over the topics.",
         {(("partition", str(p)),): n for p, n in health.fold_lag(lag).items()}),
        ("dlr_table_recovering", "1 while this worker restores its tables from the changelogs (not ready meanwhile).",
         {} if recovering is None else {(): 1 if recovering else 0}),
        ("dlr_table_recovery_remaining", "Changelog records left to restore, by table, partition and role "
         "(active: the worker is not ready until 0; standby: the hot copy kept for failover).",
         {(("table", t), ("partition", str(p)), ("role", r)): n
          for (t, p, r), n in health.recovery_remaining(app).items()}),
    ]
