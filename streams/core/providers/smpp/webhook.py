"""The SMPP webhook: a POST of SMPP receipt text (text/plain) from an
SMPP-speaking gateway in front of an SMSC, one of our own: no signature, a
plain 200 once stored."""

from __future__ import annotations

from streams.core.providers._provider import Webhook

WEBHOOK = Webhook(methods=("POST",))
