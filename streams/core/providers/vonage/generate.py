"""Generated Vonage receipts for the benches and tests: the SMS API's delivery
receipt as JSON (Nexmo/api-specification definitions/sms.yml, DeliveryReceipt).
The Messages API's status webhooks are not generated: the benches, the fuzz and
restart tests read these payloads' SMS API fields (messageId, client-ref)."""

from __future__ import annotations

import datetime as dt
import json

# Whole message lives: transient steps, then the final (":code" for an error).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("buffered", "accepted", "delivered"),
    ("accepted", "failed:2"),
    ("accepted", "delivered"),
    ("accepted", "rejected:9"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return json.dumps({"msisdn": "447700900000", "to": "Acme", "network-code": "23410",
                       "messageId": f"1A{mid:014X}", "price": "0.03330000", "status": word,
                       "scts": t.strftime("%y%m%d%H%M"), "err-code": code or "0", "api-key": "k",
                       "message-timestamp": t.strftime("%Y-%m-%d %H:%M:%S")}, separators=(",", ":")).encode()
