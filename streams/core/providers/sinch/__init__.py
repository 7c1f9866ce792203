"""Sinch SMS REST API delivery report callbacks: a JSON POST per recipient
and status change (type recipient_delivery_report_sms: batch_id, recipient,
status, code, at, operator_status_at, client_reference).

The message id is `<batch_id>:<recipient>`. Sinch sends one batch to many
recipients and reports per recipient; the batch id alone names no message,
and Sinch gives no per-recipient id but the recipient's phone number. So the
full number is part of the message id and of the message key
(`sinch:<batch_id>:<recipient>`), which lands on the internal topics (raw,
receipts, state, changes) as any key does: that is what lets a receipt reach
the message it is about. It is never logged: the worker's and the webhook's
log lines name a provider, never a key or a payload. The operators' tools
that print keys (`dlr up`'s summary, `dlr rebuild`/`dlr replay` dry runs)
print what the topics hold, like `dlr tail`.

The parser and its tables are in parse.py, the webhook and its signature in
webhook.py, the generator in generate.py, sample reports in samples.txt."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers._provider import Provider
from streams.core.providers.sinch import generate, parse, webhook

PROVIDER = Provider(
    name="sinch",
    parse=parse.parse,
    webhook=webhook.WEBHOOK,
    samples=Path(__file__).with_name("samples.txt"),
    generate=generate.receipt,
    lifecycles=generate.LIFECYCLES,
)
