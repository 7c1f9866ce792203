"""Plain SMPP 3.4 delivery receipt text (Appendix B), from any SMSC:

    id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

The spec calls this text vendor specific, and SMSCs vary it. Strict on what
decides the outcome: `id` and `stat` must be there, one word each, and the
stat word must be known. Tolerant on the rest, each noted in the receipt's
warnings where something was ignored: fields in any order and case
("Id:", "Text:"), extra whitespace, NUL padding, vendor fields of their own
("mcc:234"), `text`, `err` or `submit date` missing, `err:null`, dates in any
form `dates.py` reads, and a missing or unreadable done date (the event time
is then the received time). `fields()` and `event_time()` are shared with
providers that send this text with their own vocabulary (gatewayapi/parse.py).
"""

from __future__ import annotations

import datetime as dt
import re

from streams.core.model import Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options
from streams.core.providers.smpp import dates

NAME = "smpp"

# stat word -> (canonical status, final). Sources: SMPP 3.4 Appendix B and
# message_state (5.2.28) for the seven standard words and the state names
# they abbreviate (DELIVERED, UNDELIVERABLE, ACCEPTED, REJECTED, ...), which
# some SMSCs write out; SMPP 5.0's message_state 9 for SKIPPED; the others as
# SMSCs send them (ACKED quoted below), and ACCEPTD as gateways read it
# (jookies/jasmin PR #613).
STATUSES: dict[str, tuple[Status, bool]] = {
    "DELIVRD": (Status.DELIVERED, True),
    "DELIVERED": (Status.DELIVERED, True),
    "EXPIRED": (Status.EXPIRED, True),
    "DELETED": (Status.CANCELLED, True),  # deleted before delivery (cancel_sm)
    "UNDELIV": (Status.UNDELIVERED, True),
    "UNDELIVERABLE": (Status.UNDELIVERED, True),
    # Final in the spec, but Kannel treats ACCEPTD as not final and Jasmin lost
    # later DELIVRD receipts by closing on it (PR #613): a DELIVRD may follow.
    "ACCEPTD": (Status.ACCEPTED, False),
    "ACCEPTED": (Status.ACCEPTED, False),
    "UNKNOWN": (Status.UNKNOWN, True),  # spec: "message is in invalid state"
    "REJECTD": (Status.REJECTED, True),
    "REJECTED": (Status.REJECTED, True),
    # Not an SMPP word, but SMSCs send it for an undelivered message, and
    # Kannel (gw/smsc/smsc_smpp.c, handle_dlr) reads every stat word but
    # DELIVRD and the in-transit ones as a failure.
    "FAILED": (Status.UNDELIVERED, True),
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

# A field name at the start of the text or after whitespace: one of the
# spec's ("submit  date" and "stat :" tolerated), or a vendor's own word.
# Everything after "text:" is the text, whatever it holds.
_KEY = re.compile(
    r"(?<!\S)(submit\s+date|done\s+date|[A-Za-z][A-Za-z0-9_-]*)\s*:", re.IGNORECASE
)
KNOWN = frozenset({"id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"})
_OUTCOME = ("id", "stat")
_DATES = frozenset({"submit date", "done date"})  # strict: one word each, present, and never two different ones
_NULLS = frozenset({"null", "none", "nil"})  # placeholders for "no value" seen in err
MAX_ID = 64  # SMPP 3.4 message_id: C-Octet String of up to 65 octets incl. NUL


# The layout nearly every SMSC sends, read in one match; anything else (other
# case, spacing, order, missing or extra fields) takes the general reader.
_CANONICAL = re.compile(
    r"id:(\S{1,64}) sub:(\S+) dlvrd:(\S+) submit date:([0-9]{10}(?:[0-9]{2})?)"
    r" done date:([0-9]{10}(?:[0-9]{2})?) stat:(\S+) err:(\S+)(?: text:(.*))?"
)
_CANONICAL_NAMES = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err")


def fields(body: str, warnings: list[str]) -> dict[str, str]:
    """The spec's fields of receipt text: keys lower-case with single spaces
    ("done date"), values stripped, vendor fields left out. Raises
    ReceiptError only for what decides the outcome: no `id` or `stat`, one
    that is not one word, two that differ, or text before the first field.
    An optional field followed by more words keeps its first (a date keeps
    them all), and the rest is noted."""
    match = _CANONICAL.fullmatch(body)
    if match is not None and "\x00" not in body:
        canonical = dict(zip(_CANONICAL_NAMES, match.groups()[:7], strict=True))
        if match.group(8) is not None:
            canonical["text"] = match.group(8).strip()
        if canonical["err"][0] in "nN" and canonical["err"].lower() in _NULLS:
            del canonical["err"]
        return canonical
    if "\x00" in body:  # NUL padding (C-Octet strings) ends a value wherever it is
        body = body.replace("\x00", " ")
    keys = list(_KEY.finditer(body))
    if not keys:
        raise ReceiptError("not SMPP receipt text: no 'id:' or 'stat:' field")
    lead = body[: keys[0].start()].strip()
    if lead:
        raise ReceiptError(f"unexpected text {_wire.clip(lead, 40)!r} before the first field")
    found: dict[str, str] = {}
    for i, key in enumerate(keys):
        name = " ".join(key.group(1).lower().split())
        if name not in KNOWN:
            continue  # a vendor's own field
        if name == "text":
            found.setdefault(name, body[key.end() :].strip())
            break
        end = keys[i + 1].start() if i + 1 < len(keys) else len(body)
        value = body[key.end() : end].strip()
        if name in _OUTCOME:
            _outcome_field(found, name, value)
        elif name in found:
            warnings.append(f"{name}: repeated {_wire.quoted(value)}, the first kept")
        elif not value or value.lower() in _NULLS:
            continue
        elif name in _DATES or " " not in value:
            found[name] = value  # a date may be written with a space ("2024-03-21 12:00:00")
        else:
            first, rest = value.split(None, 1)
            warnings.append(f"{name}: trailing {_wire.quoted(rest)} ignored")
            found[name] = first
    for name in _OUTCOME:
        if name not in found:
            raise ReceiptError(f"missing field {name!r}")
    return found


def _outcome_field(found: dict[str, str], name: str, value: str) -> None:
    if not value:
        raise ReceiptError(f"field {name!r} is empty")
    if len(value.split()) > 1:
        raise ReceiptError(f"field {name!r} is not one word: {_wire.clip(value, 40)!r}")
    if name == "id" and len(value) > MAX_ID:
        raise ReceiptError(f"id longer than {MAX_ID} characters")
    if found.get(name, value) != value:
        raise ReceiptError(f"two different {name!r} fields: {found[name]!r} and {_wire.clip(value, 40)!r}")
    found[name] = value


def event_time(found: dict[str, str], options: Options, provider: str, warnings: list[str]
               ) -> tuple[int, str | None]:
    """(event time, raw done date): the done date (when the message reached
    `stat`) in the provider's zone, else the received time, noted. A 12-digit
    date that reads two ways takes the reading nearest the submit date, else
    the received time, noted."""
    zone = options.zone(provider)
    done = found.get("done date")
    if done is not None:  # the forms nearly every SMSC sends, which read only one way
        size = len(done)
        when = (_wire.fixed_time(done, "%y%m%d%H%M", zone) if size == 10 else
                _wire.fixed_time(done, "%y%m%d%H%M%S", zone) if size == 12 and not done.startswith("20") else None)
        if when is not None:
            return when, done

    def read(value: str) -> int:
        reading = dates.read(value, zone)
        if reading.ambiguous is None:
            return reading.when
        reference, which = _reference(found, zone, options)
        warnings.append(f"done date: {_wire.quoted(value)} reads as YYMMDDhhmmss and as YYYYMMDDhhmm; "
                        f"{f'the reading nearest the {which} is' if which else 'YYMMDDhhmmss'} taken")
        return dates.closest(reading, reference)

    return _wire.event_time(("done date", done, read), (), options, warnings)


def _reference(found: dict[str, str], zone: dt.tzinfo, options: Options) -> tuple[int | None, str]:
    """What an ambiguous done date is read near, and its name: the submit
    date when it reads one way, else the received time, else nothing."""
    submit = found.get("submit date")
    if submit is not None:
        try:
            reading = dates.read(submit, zone)
        except ReceiptError:
            reading = None
        if reading is not None and reading.ambiguous is None:
            return reading.when, "submit date"
    if options.received_at is not None:
        return options.received_at, "received time"
    return None, ""


def parse(payload: bytes, options: Options) -> Receipt:
    warnings: list[str] = []
    found = fields(_wire.text(payload), warnings)
    word = found["stat"].upper()  # case varies in the wild; the table is upper-case
    status, final = _wire.status(options, NAME, STATUSES, word)
    event_time_, raw_time = event_time(found, options, NAME, warnings)
    err = found.get("err")
    # err is vendor specific (SMPP 3.4 Appendix B): keep the code for the
    # record, categorised only by the deployment's own mappings.
    code, category, retryable = (None, None, None) if err is None or not err.strip("0") else (
        _wire.error(options, NAME, {}, err, None))
    return Receipt(
        provider=NAME,
        # Kept exactly as given: some SMSCs send hex ids in submit_sm_resp and
        # decimal ones here; which base was meant cannot be told from the text.
        message_id=found["id"],
        status=status,
        final=final,
        provider_status=word,
        event_time=event_time_,
        error_code=code,
        error_category=category,
        retryable=retryable,
        raw_time=raw_time,
        warnings=tuple(warnings) if warnings else (),
        # No reference: in generic SMPP, text: is the start of the message body.
    )
