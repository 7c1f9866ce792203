"""Jasmin's webhook: its DLRThrower calls the message's `dlr-url` with GET (the
fields in the query) or POST (the same fields as an
application/x-www-form-urlencoded body), as the send's `dlr-method` chose
(jookies/jasmin jasmin/routing/throwers.py, DLRThrower.http_dlr_callback).

It keeps sending the DLR (`[dlr-thrower] max_retries`, every `retry_delay`
seconds) until the answer is a 2xx whose body, stripped, is exactly
`ACK/Jasmin` (misc/doc/sources/apis/ja-http/receiving-dlr.rst; throwers.py
`content.strip() != 'ACK/Jasmin'`), so a stored receipt is answered with it.

No signature: throwers.py sends only Content-Type, Accept and User-Agent
headers, and receiving-dlr.rst documents none."""

from __future__ import annotations

from streams.core.providers._provider import Webhook

WEBHOOK = Webhook(methods=("GET", "POST"), ok_body="ACK/Jasmin")
