"""Plain SMPP 3.4 delivery receipt text (Appendix B), from any SMSC:

    id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

The spec calls this text vendor specific; in practice every SMSC sends it, with
the variations tolerated here: field names in any case ("Text:"), extra
whitespace, dates with seconds (12 digits), no text field. `fields()` and
`done_time()` are shared with providers that send this text with their own
vocabulary (gatewayapi/parse.py).
"""

from __future__ import annotations

import datetime as dt
import re

from streams.core.model import Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "smpp"

# stat word -> (canonical status, final). Sources: SMPP 3.4 Appendix B and
# message_state (5.2.28) for the seven standard words; SMPP 5.0's message_state 9
# for SKIPPED; the others as SMSCs send them (ACKED quoted below), and ACCEPTD as
# gateways read it (jookies/jasmin PR #613).
STATUSES: dict[str, tuple[Status, bool]] = {
    "DELIVRD": (Status.DELIVERED, True),
    "EXPIRED": (Status.EXPIRED, True),
    "DELETED": (Status.CANCELLED, True),  # deleted before delivery (cancel_sm)
    "UNDELIV": (Status.UNDELIVERED, True),
    # Final in the spec, but Kannel treats ACCEPTD as not final and Jasmin lost
    # later DELIVRD receipts by closing on it (PR #613): a DELIVRD may follow.
    "ACCEPTD": (Status.ACCEPTED, False),
    "UNKNOWN": (Status.UNKNOWN, True),  # spec: "message is in invalid state"
    "REJECTD": (Status.REJECTED, True),
    "ENROUTE": (Status.SENT, False),
    # ACKED (mblox and others: "stat:ACKED   err:003 text: ") means the next hop
    # acknowledged taking the message: transit progress like ENROUTE. Not
    # ACCEPTED, which is SMPP's own state for "accepted on the subscriber's
    # behalf" (and final at some providers), nor QUEUED: the message has left us.
    "ACKED": (Status.SENT, False),
    "BUFFRED": (Status.QUEUED, False),
    "BUFFERD": (Status.QUEUED, False),
    "SCHEDLD": (Status.SCHEDULED, False),
    "SKIPPED": (Status.SKIPPED, True),  # SMPP 5.0 message_state 9
}

# A field name at the start of the text or after whitespace; "submit  date" and
# "stat :" are tolerated. Everything after "text:" is the text, whatever it holds.
_KEY = re.compile(
    r"(?<!\S)(id|sub|dlvrd|submit\s+date|done\s+date|stat|err|text)\s*:", re.IGNORECASE
)
_REQUIRED = ("id", "stat", "done date", "err")
_DATE = re.compile(r"[0-9]{10}(?:[0-9]{2})?")  # YYMMDDhhmm[ss]; never unicode digits
MAX_ID = 64  # SMPP 3.4 message_id: C-Octet String of up to 65 octets incl. NUL


# The layout nearly every SMSC sends, read in one match; anything else (other
# case, spacing, order, missing fields) takes the general parser below.
_CANONICAL = re.compile(
    r"id:(\S{1,64}) sub:(\S+) dlvrd:(\S+) submit date:([0-9]{10}(?:[0-9]{2})?)"
    r" done date:([0-9]{10}(?:[0-9]{2})?) stat:(\S+) err:(\S+)(?: text:(.*))?"
)
_CANONICAL_NAMES = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err")


def fields(body: str) -> dict[str, str]:
    """Split receipt text into its fields: keys lower-case with single spaces
    ("done date"), values stripped. Raises ReceiptError for text that is not a
    whole receipt: nothing before the first field, every field once, every
    value but text one word, id, stat, done date and err present."""
    match = _CANONICAL.fullmatch(body)
    if match is not None:
        canonical = dict(zip(_CANONICAL_NAMES, match.groups()[:7], strict=True))
        if match.group(8) is not None:
            canonical["text"] = match.group(8).strip()
        return canonical
    keys = list(_KEY.finditer(body))
    if not keys:
        raise ReceiptError("not SMPP receipt text: no 'id:' or 'stat:' field")
    lead = body[: keys[0].start()].strip()
    if lead:
        raise ReceiptError(f"unexpected text {lead[:40]!r} before the first field")
    found: dict[str, str] = {}
    for i, key in enumerate(keys):
        name = " ".join(key.group(1).lower().split())
        if name in found:
            raise ReceiptError(f"duplicate field {name!r}")
        if name == "text":
            found[name] = body[key.end() :].strip()
            break
        end = keys[i + 1].start() if i + 1 < len(keys) else len(body)
        value = body[key.end() : end].strip()
        if not value:
            raise ReceiptError(f"field {name!r} is empty")
        if len(value.split()) > 1:
            raise ReceiptError(f"field {name!r} is not one word: {value[:40]!r}")
        found[name] = value
    for name in _REQUIRED:
        if name not in found:
            raise ReceiptError(f"missing field {name!r}")
    if len(found["id"]) > MAX_ID:
        raise ReceiptError(f"id longer than {MAX_ID} characters")
    for name in ("submit date", "done date"):
        if name in found and not _DATE.fullmatch(found[name]):
            raise ReceiptError(f"bad {name} {found[name]!r}: expected YYMMDDhhmm or YYMMDDhhmmss")
    return found


def done_time(found: dict[str, str], zone: dt.tzinfo) -> int:
    """The done date (when the message reached `stat`), zone-less, read in `zone`."""
    value = found["done date"]
    # One format per length: strptime would also read 10 digits as %y%m%d%H%M%S
    # with one-digit hour, minute and second.
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    try:
        return _wire.local_time(value, (fmt,), zone)
    except ReceiptError:
        raise ReceiptError(f"invalid done date {value!r}") from None


def parse(payload: bytes, options: Options) -> Receipt:
    found = fields(_wire.text(payload))
    word = found["stat"].upper()  # case varies in the wild; the table is upper-case
    try:
        status, final = STATUSES[word]
    except KeyError:
        raise ReceiptError(f"unknown smpp status {found['stat']!r}") from None
    err = found["err"]
    return Receipt(
        provider=NAME,
        # Kept exactly as given: some SMSCs send hex ids in submit_sm_resp and
        # decimal ones here; which base was meant cannot be told from the text.
        message_id=found["id"],
        status=status,
        final=final,
        provider_status=word,
        event_time=done_time(found, options.zone(NAME)),
        # err is vendor specific (SMPP 3.4 Appendix B): keep the code for the
        # record, but a generic SMPP source gives no basis to categorise it.
        error_code=None if not err.strip("0") else err,
        raw_time=found["done date"],
        # No reference: in generic SMPP, text: is the start of the message body.
    )
