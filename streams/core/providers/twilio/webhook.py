"""Twilio's webhook at /dlr/twilio: status callbacks, a form-encoded POST
(application/x-www-form-urlencoded) to the StatusCallback URL. Twilio takes
any 2xx as success; the body of the answer is ignored.

Signature, checked when DLR_SECRET_TWILIO (the account's auth token) is set
(https://www.twilio.com/docs/usage/webhooks/webhooks-security, "Validating
signatures from Twilio"; twilio/twilio-python twilio/request_validator.py):
the X-Twilio-Signature header is the base64 HMAC-SHA1, keyed with the auth
token, of the full URL Twilio called (scheme, host, path and query) followed
by every POST parameter sorted by name, each as its name then its value (a
repeated name: each distinct value, sorted). Twilio's own validators accept
the URL with and without the scheme's default port (443, 80), so this does.

The URL is the one the provider called, which the worker behind a proxy
never sees: it is DLR_PUBLIC_URL (the base the providers call, such as
https://dlr.example.com) followed by the request's path and query. With the
auth token set and DLR_PUBLIC_URL not, every request is refused (401) with
that reason: the signature cannot be checked, and refusing one provider's
callbacks is better than stopping a worker that serves the other providers.
Twilio shows the answer in its console's debugger (error 11200).

Not supported: a Webhooks Rule's SharedKey signing (the
X-Twilio-Webhooks-Signature-Settings header, HMAC-SHA256), refused with that
reason; and JSON bodies signed by bodySHA256, which status callbacks never use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from streams.core.providers._http import Incoming, SignatureError
from streams.core.providers._provider import ProviderSetting, Webhook

_DEFAULT_PORTS = {"https": 443, "http": 80}


def signature(url: str, params: Iterable[tuple[str, str]], token: str) -> str:
    """Twilio's X-Twilio-Signature of a request to `url` with these POST parameters."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def signed_url(public_url: str, incoming: Incoming) -> str:
    """The URL Twilio called: DLR_PUBLIC_URL + the request's path and query."""
    return public_url.rstrip("/") + incoming.path + (f"?{incoming.query}" if incoming.query else "")


def url_forms(url: str) -> list[str]:
    """The URL as given and with its scheme's default port added, or removed
    when it has a port (twilio-python's add_port and remove_port)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if parts.port is None:
        default = _DEFAULT_PORTS.get(parts.scheme)
        return [url] if default is None else [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))]
    without = parts.netloc[: len(parts.netloc) - len(host)] + host.rsplit(":", 1)[0]
    return [url, urlunsplit(parts._replace(netloc=without))]


def verify(incoming: Incoming, token: str, public_url: str) -> None:
    """None for a good signature; SignatureError for a bad or missing one, or
    when DLR_PUBLIC_URL is not set."""
    if not public_url:
        raise SignatureError("DLR_PUBLIC_URL is not set: Twilio signs the URL it calls, so X-Twilio-Signature "
                             "cannot be checked (set it to the base URL Twilio calls, e.g. https://dlr.example.com)")
    if "x-twilio-webhooks-signature-settings" in incoming.headers:
        raise SignatureError("signed with a Webhooks Rule's SharedKey (X-Twilio-Webhooks-Signature-Settings), "
                             "which is not supported: sign with the auth token")
    given = incoming.headers.get("x-twilio-signature", "").strip()
    if not given:
        raise SignatureError("missing X-Twilio-Signature header")
    params = [] if incoming.method == "GET" else parse_qsl(
        incoming.body.decode("utf-8", "replace"), keep_blank_values=True)
    if not given.isascii():
        raise SignatureError("X-Twilio-Signature is not base64")
    for url in url_forms(signed_url(public_url, incoming)):
        if hmac.compare_digest(given.encode(), signature(url, params, token).encode()):
            return
    raise SignatureError("X-Twilio-Signature does not match DLR_PUBLIC_URL + path and the POST parameters")


def _signer(incoming: Incoming, secret: str, settings: Mapping[str, str]) -> None:
    verify(incoming, secret, settings.get("public_url", ""))


WEBHOOK = Webhook(
    methods=("POST",),
    signer=_signer,
    secret=ProviderSetting(
        "secret_twilio",
        "Twilio auth token: verifies X-Twilio-Signature (HMAC-SHA1 of DLR_PUBLIC_URL + path and query, and the "
        "POST parameters); needs DLR_PUBLIC_URL", secret=True),
    # Kept so that a stored record can be verified again later (with the envelope's path and query).
    kept_headers=("x-twilio-signature",),
)
