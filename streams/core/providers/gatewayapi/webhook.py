"""GatewayAPI's webhook: a POST of the REST webhook JSON or the messaging
event envelope to /dlr/gatewayapi. Success is any 2xx within 15 seconds;
>= 300 is retried (onlinecity/gatewayapi-docs docs/rest.rst, "HTTP Callback").

Signatures, checked when DLR_SECRET_GATEWAYAPI is set:

- REST webhooks: "Authentication token" (docs/rest.rst): a JWT made with the
  token as secret, sent in the X-Gwapi-Signature header; the examples verify it
  as HS256. Its claims are the webhook's own fields (id, msisdn, time, status,
  ...; nickdnk/gatewayapi-php Webhook.php reads the whole webhook from it), so
  the claims are also checked against the body: a valid token cannot vouch
  for another body.
- Mobile Messaging API webhooks (gatewayapi.com/docs/message/overview,
  "Signature Verification"): header `Signature: v1=<hex HMAC-SHA256 of the
  body>` with the webhook's secret key; several comma-separated when the key
  is being rotated.
"""

from __future__ import annotations

import json

from streams.core.providers._http import Incoming, SignatureError, hmac_sha256_hex, same_hex, verify_hs256
from streams.core.providers._provider import ProviderSetting, Webhook, secret_only


def verify(incoming: Incoming, secret: str) -> None:
    """None for a good signature; SignatureError for a bad or missing one."""
    signature = incoming.headers.get("signature")
    if signature is not None:  # Mobile Messaging API: v1=<hex>, possibly several, comma-separated
        expected = hmac_sha256_hex(secret, incoming.body)
        for item in signature.split(","):
            scheme, _, value = item.strip().partition("=")
            if scheme.strip() == "v1" and same_hex(value, expected):
                return
        raise SignatureError("Signature header does not match the body")
    token = incoming.headers.get("x-gwapi-signature")
    if not token:
        raise SignatureError("missing X-Gwapi-Signature header")
    claims = verify_hs256(token, secret, require=["id", "status"])
    try:
        fields = json.loads(incoming.body)
    except ValueError:
        raise SignatureError("X-Gwapi-Signature signs JSON fields and the body is not JSON") from None
    if not isinstance(fields, dict):
        raise SignatureError("X-Gwapi-Signature signs JSON fields and the body is not a JSON object")
    shared = claims.keys() & fields.keys()
    if not {"id", "status"} <= shared or any(claims[k] != fields[k] for k in shared):
        raise SignatureError("X-Gwapi-Signature claims do not match the body")


WEBHOOK = Webhook(
    methods=("POST",),
    signer=secret_only(verify),
    secret=ProviderSetting(
        "secret_gatewayapi",
        "GatewayAPI webhook secret: verifies X-Gwapi-Signature (JWT HS256) or Signature (v1 HMAC-SHA256)",
        secret=True),
    # Kept so that a stored record can be verified again later.
    kept_headers=("x-gwapi-signature", "signature"),
)
