"""Generated Sinch recipient delivery reports for the benches and tests: the
SMS REST API's callback JSON (sinch/sinch-sdk-python
sinch/domains/sms/models/v1/response/recipient_delivery_report.py), one per
recipient and status, operator_status_at when an SMSC timed the outcome."""

from __future__ import annotations

import datetime as dt
import json

# Whole message lives: transient steps, then the final (":code" for an error).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("Queued", "Dispatched", "Delivered"),
    ("Dispatched", "Failed:404"),
    ("Dispatched", "Delivered"),
    ("Queued", "Aborted:402"),
)

# The code Sinch sends with a status that is no failure.
_CODES = {"Queued": "400", "Dispatched": "401", "Delivered": "0"}
_OPERATOR = frozenset({"Delivered", "Failed"})


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fields: dict[str, object] = {
        "at": stamp, "batch_id": f"01GBA2C1PT{mid:016X}", "client_reference": f"order-{mid}",
        "code": int(code or _CODES.get(word, "0")), "recipient": "447700900001", "status": word,
        "type": "recipient_delivery_report_sms",
    }
    if word in _OPERATOR:
        fields["operator_status_at"] = t.strftime("%Y-%m-%dT%H:%M:00Z")
    return json.dumps(fields, separators=(",", ":")).encode()
