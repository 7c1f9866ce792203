"""Generated GatewayAPI receipts for the benches and tests: REST webhook JSON
(docs/rest.rst, "HTTP Callback"), in the lifecycles GatewayAPI's states allow."""

from __future__ import annotations

import datetime as dt
import json

# Whole message lives: transient steps, then the final (":code" for an error).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("BUFFERED", "ENROUTE", "DELIVERED"),
    ("ENROUTE", "UNDELIVERABLE:0x1013"),
    ("SCHEDULED", "ENROUTE", "DELIVERED"),
    ("ENROUTE", "EXPIRED:0x1023"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return json.dumps({"id": mid, "msisdn": 4512000000 + mid % 10**6, "time": int(t.timestamp()),
                       "status": word, "error": None, "code": code, "userref": f"ref-{mid}",
                       "country_code": "DK", "country_prefix": 45}, separators=(",", ":")).encode()
