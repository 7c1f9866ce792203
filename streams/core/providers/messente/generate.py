"""Generated Messente receipts for the benches and tests: the Omnichannel API's
JSON delivery report (messente/messente-api-python docs/DeliveryResult.md)."""

from __future__ import annotations

import datetime as dt
import json

# Whole message lives: transient steps, then the final (":code" for an error).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("ACK", "ACCEPTD", "DELIVRD"),
    ("ACK", "UNDELIV:1"),
    ("ACK", "DELIVRD"),
    ("ACK", "REJECTD:8"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return json.dumps({"status": word, "sender": "Acme", "err": int(code or 0),
                       "message_id": f"00000000-0000-4000-8000-{mid:012d}", "to": "+37255500000",
                       "channel": "sms", "error": None, "omnimessage_id": f"o-{mid}",
                       "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%f"), "price_info": None},
                      separators=(",", ":")).encode()
