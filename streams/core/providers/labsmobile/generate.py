"""Generated LabsMobile receipts for the benches and tests: the ackurl query
(LabsMobile support article 77000494752), with LabsMobile's state names."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

# Whole message lives: transient steps, then the final.
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("Processed", "Sent", "Delivered"),
    ("Processed", "Sent", "Undeliverable"),
    ("Processed", "Sent", "Delivered"),
    ("Processed", "Expired"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return urlencode({"acklevel": "operator", "msisdn": "34600000000", "status": word, "desc": "",
                      "subid": f"lm{mid:011x}", "timestamp": t.strftime("%Y-%m-%d %H:%M:%S")}).encode()
