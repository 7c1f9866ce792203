"""Vonage (Nexmo): the SMS API's delivery receipts (a GET query or a POST, JSON
or form) and the Messages API's status webhooks (a JSON POST), on one endpoint.

The parser and its tables are in parse.py, the webhook and its signature in
webhook.py, the generator in generate.py, sample receipts in samples.txt."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers._provider import Provider
from streams.core.providers.vonage import generate, parse, webhook

PROVIDER = Provider(
    name="vonage",
    parse=parse.parse,
    webhook=webhook.WEBHOOK,
    samples=Path(__file__).with_name("samples.txt"),
    generate=generate.receipt,
    lifecycles=generate.LIFECYCLES,
)
