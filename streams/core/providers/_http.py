"""What a provider's webhook check reads: one HTTP request as received
(`Incoming`), the error a bad signature raises (`SignatureError`), and the
signing primitives more than one provider uses: a compact JWT signed with
HS256 (GatewayAPI's X-Gwapi-Signature, Vonage's Messages API Authorization;
RFC 7519 and RFC 7515, HS256 as jwt.io shows it), a hex HMAC-SHA256 of the
body (GatewayAPI's Signature v1, Messente's X-Messente-Signature), and a
constant-time comparison of hex digests.

Pure: the web server builds an `Incoming` and the checks never see it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JWT_LEEWAY_SECONDS = 300  # clock skew tolerated on exp/nbf


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


class SignatureError(Exception):
    """A missing or bad signature: the request is refused with 401. The reason
    is one line and never quotes the secret or the payload."""


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


def same_hex(given: str, expected: str) -> bool:
    """A hex digest as sent (any case, blanks around) against the expected
    lower-case one, in constant time."""
    given = given.strip().lower()
    return given.isascii() and hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))
