"""Webhook signature checks, one per provider that signs its callbacks. Pure
functions over the request's parts: each returns None for a good signature
and raises SignatureError with a one-line reason (never quoting the secret or
the payload) for a bad or missing one. Comparisons are constant-time.

Schemes and where they are documented:

- GatewayAPI REST webhooks: "Authentication token" (onlinecity/gatewayapi-docs,
  docs/rest.rst): a JWT made with the token as secret, sent in the
  X-Gwapi-Signature header; the examples verify it as HS256. Its claims are the
  webhook's own fields (id, msisdn, time, status, ...; nickdnk/gatewayapi-php
  Webhook.php reads the whole webhook from it), so the claims are also checked
  against the body: a valid token cannot vouch for another body.
- GatewayAPI Mobile Messaging API webhooks (gatewayapi.com/docs/message/overview,
  "Signature Verification"): header `Signature: v1=<hex HMAC-SHA256 of the
  body>` with the webhook's secret key.
- Messente Omnichannel delivery reports (messente.com/documentation/api-setup/
  security): header X-Messente-Signature = hex HMAC_SHA256(secret, body); for
  DLRs the secret is the password of the API key that sent the message. The
  legacy SMS API's GET to the DLR URL is not signed at all.
- Vonage SMS API signed webhooks (developer.vonage.com/getting-started/concepts/
  signing-messages; Vonage/vonage-python-sdk Client.check_signature): a `sig`
  parameter over the other parameters sorted by name, each as `&name=value`
  with '&' and '=' in values replaced by '_'; "MD5 hash" appends the signature
  secret and takes MD5, the HMAC methods (md5, sha1, sha256, sha512) use the
  secret as key; hex, any case.
- Vonage Messages API signed webhooks (developer.vonage.com/messages/concepts/
  signed-webhooks): `Authorization: Bearer <JWT HS256 signed with the signature
  secret>` whose `payload_hash` claim is the SHA-256 of the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from streams.worker.webhooks.receive import Incoming

JWT_LEEWAY_SECONDS = 300  # clock skew tolerated on exp/nbf


class SignatureError(Exception):
    """A missing or bad signature: the request is refused with 401."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(part: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw)
    except (ValueError, binascii.Error):  # includes UnicodeDecodeError and JSONDecodeError
        raise SignatureError(f"malformed JWT {what}") from None


def sign_hs256(claims: Mapping[str, Any], secret: str) -> str:
    """A compact JWT signed with HS256 (what GatewayAPI and Vonage send)."""
    header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"


def verify_hs256(token: str, secret: str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `secret`. Only HS256 is taken:
    never "none", never an algorithm named by the token beyond that."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isascii() for p in parts):
        raise SignatureError("malformed JWT: expected header.payload.signature")
    header = _b64url_json(parts[0], "header")
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise SignatureError("JWT algorithm must be HS256")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(_b64url(expected).encode("ascii"), parts[2].rstrip("=").encode("ascii")):
        raise SignatureError("JWT signature does not match")
    claims = _b64url_json(parts[1], "payload")
    if not isinstance(claims, dict):
        raise SignatureError("JWT payload is not a JSON object")
    current = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, (int, float)) and current > exp + JWT_LEEWAY_SECONDS:
        raise SignatureError("JWT has expired")
    if isinstance(nbf, (int, float)) and current < nbf - JWT_LEEWAY_SECONDS:
        raise SignatureError("JWT is not valid yet")
    return claims


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same_hex(given: str, expected: str) -> bool:
    given = given.strip().lower()
    return given.isascii() and hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))


# --- GatewayAPI ------------------------------------------------------------


def gatewayapi(incoming: Incoming, secret: str) -> None:
    signature = incoming.headers.get("signature")
    if signature is not None:  # Mobile Messaging API: v1=<hex>, possibly several, comma-separated
        expected = hmac_sha256_hex(secret, incoming.body)
        for item in signature.split(","):
            scheme, _, value = item.strip().partition("=")
            if scheme.strip() == "v1" and _same_hex(value, expected):
                return
        raise SignatureError("Signature header does not match the body")
    token = incoming.headers.get("x-gwapi-signature")
    if not token:
        raise SignatureError("missing X-Gwapi-Signature header")
    claims = verify_hs256(token, secret)
    try:
        fields = json.loads(incoming.body)
    except ValueError:
        raise SignatureError("X-Gwapi-Signature signs JSON fields and the body is not JSON") from None
    if not isinstance(fields, dict):
        raise SignatureError("X-Gwapi-Signature signs JSON fields and the body is not a JSON object")
    shared = claims.keys() & fields.keys()
    if not {"id", "status"} <= shared or any(claims[k] != fields[k] for k in shared):
        raise SignatureError("X-Gwapi-Signature claims do not match the body")


# --- Messente --------------------------------------------------------------


def messente(incoming: Incoming, secret: str) -> None:
    if incoming.method == "GET":
        raise SignatureError("messente does not sign legacy GET receipts and a messente secret is set")
    signature = incoming.headers.get("x-messente-signature")
    if not signature:
        raise SignatureError("missing X-Messente-Signature header")
    if not _same_hex(signature, hmac_sha256_hex(secret, incoming.body)):
        raise SignatureError("X-Messente-Signature does not match the body")


# --- Vonage ----------------------------------------------------------------

_VONAGE_HMAC = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def vonage_signature(params: Mapping[str, str], secret: str, method: str = "md5hash") -> str:
    """Vonage's `sig` over every parameter but `sig` (lower-case hex)."""
    signed = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items()) if name != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((signed + secret).encode()).hexdigest()
    try:
        digest = _VONAGE_HMAC[method]
    except KeyError:
        raise ValueError(f"unknown vonage signature method {method!r}") from None
    return hmac.new(secret.encode(), signed.encode(), digest).hexdigest()


def vonage_params(incoming: Incoming) -> dict[str, str]:
    """The parameters a Vonage `sig` covers: the query of a GET, the fields
    of a POST (JSON object or form-encoded)."""
    if incoming.method == "GET":
        return dict(parse_qsl(incoming.query, keep_blank_values=True))
    text = incoming.body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            fields = json.loads(text)
        except ValueError:
            raise SignatureError("cannot read the signed parameters: invalid JSON") from None
        if not isinstance(fields, dict):
            raise SignatureError("cannot read the signed parameters: JSON is not an object")
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def vonage(incoming: Incoming, secret: str, method: str = "md5hash") -> None:
    params = vonage_params(incoming)
    if "sig" in params:
        if not _same_hex(params["sig"], vonage_signature(params, secret, method)):
            raise SignatureError("vonage sig does not match the parameters")
        return
    authorization = incoming.headers.get("authorization")
    if authorization is None:
        raise SignatureError("missing vonage sig parameter (or Authorization JWT)")
    if incoming.method != "POST":
        raise SignatureError("a vonage Authorization JWT is only accepted on a POST with its payload_hash")
    claims = verify_hs256(authorization, secret)
    payload_hash = claims.get("payload_hash")
    if not isinstance(payload_hash, str):
        raise SignatureError("vonage JWT has no payload_hash")
    if not _same_hex(payload_hash, hashlib.sha256(incoming.body).hexdigest()):
        raise SignatureError("vonage JWT payload_hash does not match the body")
