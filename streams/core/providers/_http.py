"""What a provider's webhook check reads: one HTTP request as received
(`Incoming`), the error a bad signature raises (`SignatureError`), and the
signing primitives more than one provider uses: a compact JWT signed with
HS256 (GatewayAPI's X-Gwapi-Signature, Vonage's Messages API Authorization;
RFC 7519, verified by PyJWT with HS256 only), a hex HMAC-SHA256 of the
body (GatewayAPI's Signature v1, Messente's X-Messente-Signature), and a
constant-time comparison of hex digests.

Pure: the web server builds an `Incoming` and the checks never see it."""

from __future__ import annotations

import hashlib
import hmac
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

# The provider picks the shared secret (GatewayAPI's own example is "secret"):
# a short one is the operator's to fix at the provider, not a warning per request.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

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


def sign_hs256(claims: Mapping[str, Any], secret: str) -> str:
    """A compact JWT signed with HS256 (what GatewayAPI and Vonage send)."""
    return jwt.encode(dict(claims), secret, algorithm="HS256")


# What each PyJWT refusal says: fixed one-line reasons, so that neither the
# secret nor the token nor the payload is ever quoted back.
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.InvalidSignatureError, "JWT signature does not match"),
    (jwt.InvalidAlgorithmError, "JWT algorithm must be HS256"),
    (jwt.ExpiredSignatureError, "JWT has expired"),
    (jwt.ImmatureSignatureError, "JWT is not valid yet"),
    (jwt.InvalidIssuedAtError, "JWT iat is not a number"),
    (jwt.DecodeError, "malformed JWT: expected header.payload.signature of base64url JSON"),
)


def verify_hs256(token: str, secret: str, *, require: Sequence[str] = ()) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `secret` (PyJWT's `jwt.decode`).
    Only HS256 is taken: never "none", never an algorithm named by the token
    beyond that. exp and nbf (and iat) are checked with JWT_LEEWAY_SECONDS of
    clock skew; `require` names the claims the scheme cannot do without."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token.isascii():
        raise SignatureError("malformed JWT: expected header.payload.signature")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], leeway=JWT_LEEWAY_SECONDS,
            # Neither scheme names an audience: a token's aud is not ours to check.
            options={"require": list(require), "verify_aud": False},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise SignatureError(f"JWT has no {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), None)
        raise SignatureError(reason or f"JWT refused ({type(exc).__name__})") from None
    return claims


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def same_hex(given: str, expected: str) -> bool:
    """A hex digest as sent (any case, blanks around) against the expected
    lower-case one, in constant time."""
    given = given.strip().lower()
    return given.isascii() and hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))
