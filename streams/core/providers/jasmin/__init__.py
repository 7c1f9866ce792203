"""Jasmin SMS gateway (jookies/jasmin): the HTTP DLR callback, level 1 (the
SMSC's submit answer) and level 2 (its receipts), a GET query or a POST form.

The parser and its tables are in parse.py (the SMPP command_status names in
esme.py), the webhook in webhook.py, the generator in generate.py, sample
receipts in samples.txt."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers._provider import Provider
from streams.core.providers.jasmin import generate, parse, webhook

PROVIDER = Provider(
    name="jasmin",
    parse=parse.parse,
    webhook=webhook.WEBHOOK,
    samples=Path(__file__).with_name("samples.txt"),
    generate=generate.receipt,
    lifecycles=generate.LIFECYCLES,
)
