"""Vonage's webhook at /dlr/vonage: the SMS API's delivery receipt as a GET
query or a POST (JSON or form), and the Messages API's message status as a
JSON POST (parse.py tells them apart). Vonage wants a 200 OK
(developer.vonage.com/messaging/sms/guides/delivery-receipts).

Signatures, checked when DLR_SECRET_VONAGE is set:

- SMS API signed webhooks (developer.vonage.com/getting-started/concepts/
  signing-messages; Vonage/vonage-python-sdk Client.check_signature): a `sig`
  parameter over the other parameters sorted by name, each as `&name=value`
  with '&' and '=' in values replaced by '_'; "MD5 hash" appends the signature
  secret and takes MD5, the HMAC methods (md5, sha1, sha256, sha512) use the
  secret as key; hex, any case. The method is the account's choice, hence
  DLR_VONAGE_SIGNATURE_METHOD.
- Messages API signed webhooks (https://developer.vonage.com/en/messages/
  concepts/signed-webhooks): inbound messages and message status callbacks
  carry `Authorization: Bearer <JWT signed with the signature secret>`, HS256
  whatever the dashboard's signature method ("SHA-256 is always used"), whose
  claims include `api_key` (which account's secret signed it) and
  `payload_hash`, the hex SHA-256 of the body, checked here too (the page
  calls that optional over HTTPS; it is what ties the token to this body).
  The header is never kept in the envelope (a credential). The page warns
  that on an internal error Vonage may send a callback unsigned, and retries
  it on a 5xx; it is refused here like any unsigned request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from streams.core.providers._http import Incoming, SignatureError, same_hex, verify_hs256
from streams.core.providers._provider import ProviderSetting, Webhook

_HMAC = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
METHODS = ("md5hash", *_HMAC)


def signature(params: Mapping[str, str], secret: str, method: str = "md5hash") -> str:
    """Vonage's `sig` over every parameter but `sig` (lower-case hex)."""
    signed = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items()) if name != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((signed + secret).encode()).hexdigest()
    try:
        digest = _HMAC[method]
    except KeyError:
        raise ValueError(f"unknown vonage signature method {method!r}") from None
    return hmac.new(secret.encode(), signed.encode(), digest).hexdigest()


def params(incoming: Incoming) -> dict[str, str]:
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


def verify(incoming: Incoming, secret: str, method: str = "md5hash") -> None:
    """None for a good signature; SignatureError for a bad or missing one."""
    authorization = incoming.headers.get("authorization")
    try:
        given = params(incoming)
    except SignatureError:
        if authorization is None:
            raise
        given = {}  # a JWT signs the body's bytes, read or not: its payload_hash decides
    if "sig" in given:
        if not same_hex(given["sig"], signature(given, secret, method)):
            raise SignatureError("vonage sig does not match the parameters")
        return
    if authorization is None:
        raise SignatureError("missing vonage sig parameter (or Authorization JWT)")
    if incoming.method != "POST":
        raise SignatureError("a vonage Authorization JWT is only accepted on a POST with its payload_hash")
    claims = verify_hs256(authorization, secret, require=["payload_hash"])
    payload_hash = claims.get("payload_hash")
    if not isinstance(payload_hash, str):
        raise SignatureError("vonage JWT has no payload_hash")
    if not same_hex(payload_hash, hashlib.sha256(incoming.body).hexdigest()):
        raise SignatureError("vonage JWT payload_hash does not match the body")


def _signer(incoming: Incoming, secret: str, settings: Mapping[str, str]) -> None:
    verify(incoming, secret, settings["vonage_signature_method"])


WEBHOOK = Webhook(
    methods=("GET", "POST"),
    signer=_signer,
    secret=ProviderSetting(
        "secret_vonage", "Vonage signature secret: verifies the `sig` parameter (or a Messages API JWT)",
        secret=True),
    settings=(ProviderSetting(
        "vonage_signature_method",
        "Vonage signature method as chosen in its dashboard: md5hash, md5, sha1, sha256 or sha512",
        default="md5hash", choices=METHODS),),
)
