"""Infobip's webhook at /dlr/infobip: a JSON POST of delivery reports; any
2xx answer is success.

Infobip does not sign delivery reports. Its subscriptions (Subscriptions
management API, `security` of a notification profile) can send HTTP Basic
credentials instead: with DLR_SECRET_INFOBIP set to `user:password`, a
request without exactly those credentials is refused. The Authorization
header is never kept in the envelope (streams.core.providers._provider.NEVER_KEPT).
"""

from __future__ import annotations

import base64
import hmac

from streams.core.providers._http import Incoming, SignatureError
from streams.core.providers._provider import ProviderSetting, Webhook, secret_only


def verify(incoming: Incoming, secret: str) -> None:
    """None when the request carries HTTP Basic credentials equal to `secret`
    (`user:password`); SignatureError otherwise."""
    header = incoming.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        raise SignatureError("missing HTTP Basic credentials")
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except ValueError:
        raise SignatureError("HTTP Basic credentials are not base64") from None
    if not hmac.compare_digest(given, secret.encode()):
        raise SignatureError("HTTP Basic credentials do not match")


WEBHOOK = Webhook(
    methods=("POST",),
    signer=secret_only(verify),
    secret=ProviderSetting(
        "secret_infobip",
        "Infobip webhook credentials as user:password: requests must carry them as HTTP Basic "
        "(Infobip does not sign delivery reports)", secret=True),
)
