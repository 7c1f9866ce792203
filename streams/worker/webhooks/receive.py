"""What the HTTP edge does to one webhook request, as plain functions: check
the method, take the payload (a GET's query string, a POST's body), refuse
garbage, and build the raw receipt envelope and its record key. What is
written is the payload unchanged; normalization happens behind Kafka.

The one look inside the payload is the record key (`record_key`): the
receipt's message key when the payload parses, the rule `dlr produce` uses, so
that all receipts of one message share a raw partition and reach the fold in
the order they arrived. Without it a receipt's partition would be random and a
backlog drained at different speeds per partition would reorder a message's
receipts: the fold's state would still converge, but intermediate status
changes (SENT before DELIVERED) would be skipped. The parse costs ~15 us, next
to milliseconds for the Kafka acknowledgement; a payload that does not parse
is written keyless and dead-lettered by the worker.

Every refusal is a `Refused` with an HTTP status and a one-line reason that
never quotes the payload (payloads carry phone numbers)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from streams import settings
from streams.core import providers
from streams.core.model import ReceiptError
from streams.serde import envelope

TRANSPORT = "http"
SIGNED_PROVIDERS = ("gatewayapi", "messente", "vonage")
VONAGE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")

# Headers kept in the envelope: how the request came, and the provider's own
# signature headers (so a record can be re-verified later). Never cookies or
# Authorization.
KEPT_HEADERS = (
    "content-type", "user-agent", "x-forwarded-for", "x-real-ip", "forwarded", "x-request-id",
    "x-gwapi-signature", "signature", "x-messente-signature",
)


class Refused(Exception):
    """A request answered with a 4xx/5xx and a one-line reason; nothing is written."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class Incoming:
    """One HTTP request as received. `query` is the raw (percent-encoded) query
    string without '?'; `headers` have lower-case names."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""
    remote_addr: str | None = None
    received_at: int = field(default_factory=lambda: time.time_ns() // 1000)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    secrets: dict[str, str] = field(default_factory=dict)
    vonage_signature_method: str = "md5hash"
    max_body_bytes: int = 65536
    timeout: float = 4.0

    @classmethod
    def from_settings(cls) -> WebhookConfig:
        method = settings.get("vonage_signature_method").strip().lower()
        if method not in VONAGE_METHODS:
            raise SystemExit(f"DLR_VONAGE_SIGNATURE_METHOD={method!r}: expected one of {', '.join(VONAGE_METHODS)}")
        try:
            timeout = float(settings.get("webhook_timeout"))
        except ValueError:
            raise SystemExit(f"DLR_WEBHOOK_TIMEOUT={settings.get('webhook_timeout')!r} is not a number") from None
        secrets = {p: settings.get(f"secret_{p}") for p in SIGNED_PROVIDERS if settings.get(f"secret_{p}")}
        return cls(secrets, method, settings.get_int("max_body_bytes"), timeout)


def check_method(method: str, allowed: tuple[str, ...], path: str) -> None:
    if method not in allowed:
        raise Refused(405, f"method {method} not allowed on {path}; use {' or '.join(allowed)}",
                      {"Allow": ", ".join(allowed)})


def check_length(content_length: int | None, max_bytes: int) -> None:
    """Before reading: a declared length over the limit is refused unread."""
    if content_length is not None and content_length > max_bytes:
        raise Refused(413, f"body of {content_length} bytes is over the limit of {max_bytes}")


def payload(incoming: Incoming, max_bytes: int) -> bytes:
    """The receipt as the provider sent it: a GET's query string, a POST's
    body. Refused when empty, over the size limit, or not UTF-8 text."""
    if incoming.method == "GET":
        if not incoming.query:
            raise Refused(400, "empty query string: a GET receipt carries its fields in the query")
        _check_query_text(incoming.query)
        raw = incoming.query.encode("utf-8")
        if len(raw) > max_bytes:
            raise Refused(413, f"query of {len(raw)} bytes is over the limit of {max_bytes}")
        return raw
    body = incoming.body
    if len(body) > max_bytes:
        raise Refused(413, f"body of {len(body)} bytes is over the limit of {max_bytes}")
    if not body.strip():
        raise Refused(400, "empty body")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"body is not UTF-8 (invalid byte at {exc.start})") from None
    return body


def _check_query_text(query: str) -> None:
    """The query as received (raw bytes the server could not decode come as
    surrogates) and each percent-decoded field must be UTF-8 text."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(400, "query string is not UTF-8") from None
    try:
        parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Refused(400, "query string is not UTF-8 once percent-decoded") from None


_KEY_OPTIONS = providers.Options(received_at=0)  # the message key depends on no time


def record_key(provider: str, body: bytes) -> bytes | None:
    """The raw record's key: the receipt's message key, or None when the
    payload does not parse (the worker dead-letters it with the reason)."""
    try:
        return providers.normalize(provider, body, _KEY_OPTIONS).message_key.encode()
    except ReceiptError:
        return None


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def envelope_value(provider: str, incoming: Incoming, body: bytes) -> bytes:
    """The RawReceipt written to dlr.raw.<provider>: the payload unchanged and how it came."""
    return envelope.make(
        provider, body, TRANSPORT, received_at=incoming.received_at, content_type=incoming.content_type,
        method=incoming.method, path=incoming.path, query=incoming.query or None,
        headers=kept_headers(incoming.headers), remote_addr=incoming.remote_addr,
    )
