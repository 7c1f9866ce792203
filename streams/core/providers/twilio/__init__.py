"""Twilio Programmable Messaging status callbacks: a form-encoded POST per
change of an outbound message's status (MessageSid, MessageStatus, ErrorCode,
RawDlrDoneDate; the legacy SmsSid and SmsStatus beside them).

The parser and its tables are in parse.py, the webhook and its
X-Twilio-Signature check (over DLR_PUBLIC_URL + the request's path and query)
in webhook.py, the generator in generate.py, sample callbacks in samples.txt."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers._provider import Provider
from streams.core.providers.twilio import generate, parse, webhook

PROVIDER = Provider(
    name="twilio",
    parse=parse.parse,
    webhook=webhook.WEBHOOK,
    samples=Path(__file__).with_name("samples.txt"),
    generate=generate.receipt,
    lifecycles=generate.LIFECYCLES,
)
