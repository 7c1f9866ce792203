"""Messente's webhook at /dlr/messente: the legacy SMS API's GET to the
dlr-url (its fields in the query) and the Omnichannel API's JSON POST. Any
answer from 200 to 399 is success (messente.com/documentation/omnichannel-api/
delivery-report).

Signature, checked when DLR_SECRET_MESSENTE is set (messente.com/documentation/
api-setup/security): header X-Messente-Signature = hex HMAC_SHA256(secret,
body); for delivery reports the secret is the password of the API key that
sent the message. The legacy GET is not signed at all, so with a secret set it
is refused.
"""

from __future__ import annotations

from streams.core.providers._http import Incoming, SignatureError, hmac_sha256_hex, same_hex
from streams.core.providers._provider import ProviderSetting, Webhook, secret_only


def verify(incoming: Incoming, secret: str) -> None:
    """None for a good signature; SignatureError for a bad or missing one."""
    if incoming.method == "GET":
        raise SignatureError("messente does not sign legacy GET receipts and a messente secret is set")
    signature = incoming.headers.get("x-messente-signature")
    if not signature:
        raise SignatureError("missing X-Messente-Signature header")
    if not same_hex(signature, hmac_sha256_hex(secret, incoming.body)):
        raise SignatureError("X-Messente-Signature does not match the body")


WEBHOOK = Webhook(
    methods=("GET", "POST"),
    signer=secret_only(verify),
    secret=ProviderSetting(
        "secret_messente",
        "Messente API password: verifies X-Messente-Signature (HMAC-SHA256 of the body); "
        "unsigned legacy GET receipts are then refused", secret=True),
    kept_headers=("x-messente-signature",),  # so that a stored record can be verified again
)
