"""Generated Twilio status callbacks for the benches and tests: the form body
Twilio POSTs to a StatusCallback URL (https://www.twilio.com/docs/messaging/
guides/track-outbound-message-status), RawDlrDoneDate on delivered and
undelivered as carriers give it, nothing but the received time otherwise."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

# Whole message lives: transient steps, then the final (":code" for an error).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("queued", "sent", "delivered"),
    ("queued", "sent", "undelivered:30003"),
    ("sent", "delivered"),
    ("queued", "failed:30001"),
)

_DONE = frozenset({"delivered", "undelivered"})


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    sid = f"SM{mid:032x}"
    fields = {"ApiVersion": "2010-04-01", "AccountSid": "AC" + "0" * 32, "SmsSid": sid, "SmsStatus": word,
              "MessageStatus": word, "To": "+15558675310", "MessageSid": sid, "From": "+15017122661"}
    if code is not None:
        fields["ErrorCode"] = code
    if word in _DONE:
        fields["RawDlrDoneDate"] = t.strftime("%y%m%d%H%M")
    return urlencode(fields).encode()
