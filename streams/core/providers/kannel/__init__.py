"""Kannel (kannel.org): the dlr-url callback, a GET whose query is the
operator's URL template with Kannel's escape codes filled in.

The parser and its tables are in parse.py (with the template to configure),
the webhook in webhook.py, the generator in generate.py, sample receipts in
samples.txt."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers._provider import Provider
from streams.core.providers.kannel import generate, parse, webhook

PROVIDER = Provider(
    name="kannel",
    parse=parse.parse,
    webhook=webhook.WEBHOOK,
    samples=Path(__file__).with_name("samples.txt"),
    generate=generate.receipt,
    lifecycles=generate.LIFECYCLES,
)
