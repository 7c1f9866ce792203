"""Infobip (infobip.com): SMS delivery reports, JSON batches of up to 100
reports per POST (`{"results": [...]}`): one raw record holds several
receipts, so this provider declares `parse_all`.

The parser and its tables are in parse.py, the webhook and its check in
webhook.py, the generator in generate.py, sample receipts in samples.txt."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers._provider import Provider
from streams.core.providers.infobip import generate, parse, webhook

PROVIDER = Provider(
    name="infobip",
    parse=parse.parse,
    parse_all=parse.parse_all,
    webhook=webhook.WEBHOOK,
    samples=Path(__file__).with_name("samples.txt"),
    generate=generate.receipt,
    lifecycles=generate.LIFECYCLES,
)
