"""Generated Infobip delivery reports for the benches and tests: one report
per post, in the shape of Infobip's "Receive outbound SMS message report"."""

from __future__ import annotations

import datetime as dt
import json

from streams.core.providers.infobip.parse import GROUPS

# Whole message lives: transient steps, then the final (":code" for an error).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("PENDING_ENROUTE", "DELIVERED_TO_OPERATOR", "DELIVERED_TO_HANDSET"),
    ("PENDING_ENROUTE", "UNDELIVERABLE_NOT_DELIVERED:1"),
    ("PENDING_ACCEPTED", "DELIVERED_TO_HANDSET"),
    ("PENDING_ENROUTE", "EXPIRED_EXPIRED:27"),
    ("PENDING_ACCEPTED", "REJECTED_NETWORK:13"),
)
_PERMANENT = frozenset({"1", "5", "9", "13"})  # no retry can reach an unknown or barred subscriber
_GROUP_IDS = {group: number for number, group in enumerate(GROUPS, 1)}


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    group = word.split("_", 1)[0]
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"
    report = {
        "bulkId": f"bulk-{mid // 100}", "messageId": f"ib-{mid:012d}", "to": "41793026727",
        "sentAt": stamp, "doneAt": stamp, "smsCount": 1, "mccMnc": "22801", "callbackData": f"ref-{mid}",
        "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": {"groupId": _GROUP_IDS[group], "groupName": group, "id": 0, "name": word, "description": ""},
        "error": {"groupId": 1 if code else 0, "groupName": "HANDSET_ERRORS" if code else "OK",
                  "id": int(code or 0), "name": "", "description": "", "permanent": code in _PERMANENT},
    }
    return json.dumps({"results": [report]}, separators=(",", ":")).encode()
