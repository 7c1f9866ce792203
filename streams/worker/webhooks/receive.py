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
never quotes the payload (payloads carry phone numbers). What is particular to a
provider (its signed status, headers and settings) is read from its record
(streams/core/providers/<name>/webhook.py)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from streams import settings
from streams.core import providers
from streams.core.mappings import MappingError
from streams.core.providers import ProviderSetting
from streams.core.providers._http import Incoming as Incoming  # re-exported: the request the edge reads
from streams.serde import envelope

TRANSPORT = "http"
# Providers that sign their callbacks: a check runs when their secret is set.
SIGNED_PROVIDERS = tuple(name for name, p in providers.PROVIDERS.items() if p.webhook.signer is not None)

# Headers kept in the envelope: how the request came, and each provider's own
# signature headers, as its record names them (so a record can be re-verified
# later). Never cookies or Authorization (the records cannot name them).
KEPT_HEADERS = tuple(dict.fromkeys([
    "content-type", "user-agent", "x-forwarded-for", "x-real-ip", "forwarded", "x-request-id",
    *(name for p in providers.PROVIDERS.values() for name in p.webhook.kept_headers),
]))
# Every setting a provider's webhook check reads, but its secret: the values
# a signer is given, by setting name.
PROVIDER_SETTINGS: dict[str, ProviderSetting] = {
    s.name: s for p in providers.PROVIDERS.values() for s in p.webhook.settings
}


class Refused(Exception):
    """A request answered with a 4xx/5xx and a one-line reason; nothing is written."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def _defaults() -> dict[str, str]:
    return {name: setting.default for name, setting in PROVIDER_SETTINGS.items()}


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """`secrets` by provider (only those set); `provider_settings` the values
    of the settings the providers' checks read (PROVIDER_SETTINGS), by name,
    and, when DLR_PUBLIC_URL is set, `public_url`: the base URL the providers
    call, for a check over the URL called (Twilio's)."""

    secrets: dict[str, str] = field(default_factory=dict)
    provider_settings: dict[str, str] = field(default_factory=_defaults)
    max_body_bytes: int = 65536
    timeout: float = 4.0

    @classmethod
    def from_settings(cls) -> WebhookConfig:
        values = {}
        for name, declared in PROVIDER_SETTINGS.items():
            value = settings.get(name)
            if declared.choices:
                value = value.strip().lower()
                if value not in declared.choices:
                    raise SystemExit(f"{settings.SETTINGS[name].env}={value!r}: expected one of "
                                     f"{', '.join(declared.choices)}")
            values[name] = value
        try:
            timeout = float(settings.get("webhook_timeout"))
        except ValueError:
            raise SystemExit(f"DLR_WEBHOOK_TIMEOUT={settings.get('webhook_timeout')!r} is not a number") from None
        public_url = settings.get("public_url").strip()
        if public_url:
            if not public_url.lower().startswith(("https://", "http://")) or "?" in public_url or "#" in public_url:
                raise SystemExit(f"DLR_PUBLIC_URL={public_url!r}: expected the base URL the providers call, "
                                 "e.g. https://dlr.example.com")
            values["public_url"] = public_url
        secrets = {}
        for name in SIGNED_PROVIDERS:
            secret = providers.PROVIDERS[name].webhook.secret
            if secret is not None and settings.get(secret.name):
                secrets[name] = settings.get(secret.name)
        return cls(secrets, values, settings.get_int("max_body_bytes"), timeout)


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


@functools.cache
def _key_options() -> providers.Options:
    """The message key depends on no time, but on the deployment's mappings: a
    receipt whose word only DLR_MAPPINGS knows parses, so it gets its key like
    any other. Read once; `dlr worker` refused a bad file before starting.
    Should it have gone bad since, the key is made without it: a key orders
    receipts, it never decides what one means (the worker's normalize does)."""
    try:
        return providers.Options(received_at=0, mappings=settings.mappings())
    except MappingError:
        return providers.Options(received_at=0)


def record_key(provider: str, body: bytes) -> bytes | None:
    """The raw record's key: the message key of its (first) report, or None
    when none parses (the worker dead-letters it with the reason)."""
    key = providers.message_key(provider, body, _key_options())
    return None if key is None else key.encode()


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def envelope_value(provider: str, incoming: Incoming, body: bytes) -> bytes:
    """The RawReceipt written to dlr.raw.<provider>: the payload unchanged and how it came."""
    return envelope.make(
        provider, body, TRANSPORT, received_at=incoming.received_at, content_type=incoming.content_type,
        method=incoming.method, path=incoming.path, query=incoming.query or None,
        headers=kept_headers(incoming.headers), remote_addr=incoming.remote_addr,
    )
