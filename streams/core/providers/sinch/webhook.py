"""Sinch's webhook at /dlr/sinch: the SMS REST API's callbacks, a JSON POST
to the batch's callback_url. Sinch takes any 2xx as success, retries a 5xx or
a 429 (5 s, then doubling, for almost 23 hours) and never retries another 4xx
(https://developers.sinch.com/docs/sms/api-reference/sms/tag/Webhooks/).

Signature, checked when DLR_SECRET_SINCH is set: Sinch's signed callbacks
carry x-sinch-webhook-signature, the base64 HMAC, keyed with the webhook's
secret, of the raw body, '.', x-sinch-webhook-signature-nonce, '.',
x-sinch-webhook-signature-timestamp, in the algorithm that
x-sinch-webhook-signature-algorithm names (HmacSHA256; HmacSHA384 and
HmacSHA512 are accepted too). Sources: the Conversation API's "Validating
callbacks" (https://developers.sinch.com/docs/conversation/callbacks/), and
Sinch's SDKs, which check the SMS API's callbacks the same way (sinch/
sinch-sdk-python SmsWebhooks.validate_authentication_header, calling
validate_webhook_signature_with_nonce in sinch/domains/authentication/webhooks/
v1/authentication_validation.py). The timestamp's age is not checked: Sinch
retries a callback for almost 23 hours, and a replayed receipt changes
nothing (the fold is idempotent).

The SMS API's webhooks page names, besides, callback options an account
manager provisions (basic authentication, OAuth 2.0, mutual TLS): those are
for the proxy in front of the worker, not checked here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from streams.core.providers._http import Incoming, SignatureError
from streams.core.providers._provider import ProviderSetting, Webhook, secret_only

ALGORITHMS: dict[str, Callable[..., Any]] = {
    "hmacsha256": hashlib.sha256, "hmacsha384": hashlib.sha384, "hmacsha512": hashlib.sha512,
}
DEFAULT_ALGORITHM = "HmacSHA256"


def signature(body: bytes, nonce: str, timestamp: str, secret: str, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """x-sinch-webhook-signature of a callback with this body, nonce and timestamp."""
    digest = ALGORITHMS[algorithm.strip().lower()]
    signed = body + f".{nonce}.{timestamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, digest).digest()).decode()


def verify(incoming: Incoming, secret: str) -> None:
    """None for a good signature; SignatureError for a bad or missing one."""
    headers = incoming.headers
    given = headers.get("x-sinch-webhook-signature", "").strip()
    if not given:
        raise SignatureError("missing x-sinch-webhook-signature header")
    nonce = headers.get("x-sinch-webhook-signature-nonce")
    timestamp = headers.get("x-sinch-webhook-signature-timestamp")
    if nonce is None or timestamp is None:
        missing = "x-sinch-webhook-signature-nonce" if nonce is None else "x-sinch-webhook-signature-timestamp"
        raise SignatureError(f"missing {missing} header")
    algorithm = headers.get("x-sinch-webhook-signature-algorithm", DEFAULT_ALGORITHM)
    if algorithm.strip().lower() not in ALGORITHMS:
        raise SignatureError("x-sinch-webhook-signature-algorithm is not HmacSHA256, HmacSHA384 or HmacSHA512")
    if not given.isascii():
        raise SignatureError("x-sinch-webhook-signature is not base64")
    expected = signature(incoming.body, nonce.strip(), timestamp.strip(), secret, algorithm)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureError("x-sinch-webhook-signature does not match the body, nonce and timestamp")


WEBHOOK = Webhook(
    methods=("POST",),
    signer=secret_only(verify),
    secret=ProviderSetting(
        "secret_sinch",
        "Sinch webhook secret: verifies x-sinch-webhook-signature (HMAC of the body, nonce and timestamp)",
        secret=True),
    # Kept so that a stored record can be verified again later.
    kept_headers=("x-sinch-webhook-signature", "x-sinch-webhook-signature-nonce",
                  "x-sinch-webhook-signature-timestamp", "x-sinch-webhook-signature-algorithm"),
)
