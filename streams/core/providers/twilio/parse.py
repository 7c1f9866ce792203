"""Twilio status callbacks: the form-encoded POST Twilio sends to a message's
StatusCallback URL (or its Messaging Service's) each time the status of an
outbound message changes (https://www.twilio.com/docs/messaging/guides/
track-outbound-message-status; https://www.twilio.com/docs/messaging/guides/
outbound-message-status-in-status-callbacks). The fields read here:

- `MessageSid`, `MessageStatus`: the message and its status. The legacy
  `SmsSid` and `SmsStatus` ("same as MessageSid/MessageStatus, deprecated")
  come beside them; when the two disagree the Message* field wins and the
  disagreement is noted; when only the legacy one is there it is used, noted.
- `ErrorCode`: Twilio's error catalogue (https://www.twilio.com/docs/api/errors),
  on failed and undelivered messages.
- `RawDlrDoneDate`: the done date of the carrier's delivery receipt, passed
  through as YYMMDDhhmm, on delivered and undelivered SMS/MMS when the carrier
  gave one (https://www.twilio.com/en-us/changelog/
  addition-of-rawdlrdonedate-to-delivered-and-undelivered-status-webhooks).
  It carries no zone ("the timezone offset varies between carrier partners"):
  it is read in the zone DLR_PROVIDER_ZONES gives twilio, UTC otherwise. No
  other time is sent, so without it the event time is the received time: the
  documented shape of most callbacks (queued, sent), so not noted, as
  Messente's legacy GET.

Strict on what decides the outcome: the message id and the status word (one
the table does not know is a ReceiptError, never a guess). Tolerant on the
rest: an unknown ErrorCode is kept without a category, an unreadable
RawDlrDoneDate falls back to the received time, each noted in warnings.

`To` and `From` (phone numbers, or whatsapp:+... addresses) are read by
nobody here: a receipt carries no phone number onward. The X-Twilio-Signature
is checked where the request is received (webhook.py).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote_plus

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "twilio"

# MessageStatus -> (canonical status, final). Source: the Message resource's status values,
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values, and
# the order Twilio reports them in, https://www.twilio.com/docs/messaging/guides/
# outbound-message-status-in-status-callbacks. receiving and received are the
# statuses of inbound messages: see NOT_OUTBOUND.
STATUSES: dict[str, tuple[Status, bool]] = {
    # "[Messaging Service only] Twilio has received your API request to immediately send
    # the message with a Messaging Service" and is choosing the sender: known to Twilio,
    # nothing more yet, so ranked below queued, which follows it.
    "accepted": (Status.PENDING, False),
    # "[Messaging Service only] The Message is scheduled to be sent in the future."
    "scheduled": (Status.SCHEDULED, False),
    # "[Messaging Service only] The message scheduling has been canceled."
    "canceled": (Status.CANCELLED, True),
    # "The API request to send an outbound message was successful and the message is
    # queued to be sent out by a specific From sender."
    "queued": (Status.QUEUED, False),
    # "Twilio is in the process of dispatching your message to the nearest upstream
    # carrier": still with Twilio.
    "sending": (Status.QUEUED, False),
    # "The nearest upstream carrier accepted the message."
    "sent": (Status.SENT, False),
    # "Twilio has received confirmation of message delivery from the upstream carrier,
    # and, where available, the destination handset."
    "delivered": (Status.DELIVERED, True),
    # "Twilio received a delivery receipt indicating that the message was not delivered."
    "undelivered": (Status.UNDELIVERED, True),
    # "The message could not be sent. This can happen for various reasons including queue
    # overflows, Account suspensions and media errors. Twilio does not charge you for
    # failed messages." It never left Twilio: refused before any delivery attempt.
    "failed": (Status.REJECTED, True),
    # "WhatsApp only: The recipient opened the message" (RCS reports it too). Our Status
    # has no READ; read implies delivered. provider_status keeps "read".
    "read": (Status.DELIVERED, True),
}

# Words Twilio lists without a meaning to map: refused with the reason, never guessed.
# A deployment that knows what its account sends maps them in DLR_MAPPINGS (twilio.statuses).
UNDEFINED: dict[str, str] = {
    # The Message resource's status table lists it as "[Deprecated]" and says nothing
    # more: delivered to some recipients or some parts, final or not, is not said.
    "partially_delivered": "is listed by Twilio as deprecated, without a meaning",
}
# The statuses of inbound messages: a callback with these is not about a sent message.
NOT_OUTBOUND: dict[str, str] = {
    "receiving": "is the status of an inbound message, not of a sent one",
    "received": "is the status of an inbound message, not of a sent one",
}

_C = ErrorCategory
# ErrorCode -> (category, retryable; None = the category's default). Source: Twilio's error
# dictionary, one page per code at https://www.twilio.com/docs/api/errors/<code> (the titles
# below are Twilio's); the categories are ours. The codes a status callback commonly carries
# are mapped; any other is kept without a category and noted, never a dead letter: the
# status word, not the code, decides the outcome. Left out for want of a title we could
# confirm: 21613, 30033, 30035 (and the WhatsApp/channel codes, 63xxx).
ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    "21211": (_C.INVALID_NUMBER, None),  # Invalid 'To' Phone Number
    # Permission to send an SMS has not been enabled for the region indicated by the 'To' number
    "21408": (_C.ROUTING, None),
    # Attempt to send to unsubscribed recipient: the recipient replied STOP.
    "21610": (_C.BLACKLISTED, None),
    "21611": (_C.THROTTLED, None),  # This 'From' number has exceeded the maximum number of queued messages
    "21612": (_C.ROUTING, None),  # The 'To' phone number is not currently reachable via SMS (from this 'From')
    "21614": (_C.INVALID_NUMBER, None),  # 'To' number is not a valid mobile number
    "30001": (_C.THROTTLED, None),  # Queue overflow
    # Account suspended: "accepted the message for queueing, but your account was suspended
    # before Twilio could send it" (negative balance, or a policy or fraud review).
    "30002": (_C.SENDER_REJECTED, None),
    # Unreachable destination handset: "powered off, no service ... temporarily unreachable".
    "30003": (_C.UNREACHABLE, True),
    "30004": (_C.BARRED, None),  # Message blocked: the destination is blocked from receiving it
    "30005": (_C.INVALID_NUMBER, None),  # Unknown destination handset: "may no longer exist"
    "30006": (_C.INVALID_NUMBER, None),  # Landline or unreachable carrier
    # Message filtered: by Twilio (its Acceptable Use Policy) or by the carrier.
    "30007": (_C.CONTENT_REJECTED, None),
    "30008": (_C.GENERIC, None),  # Unknown error
    "30010": (_C.INVALID_MESSAGE, None),  # Message price exceeds max price (the request's MaxPrice)
    "30017": (_C.NETWORK, None),  # Carrier network congestion
    "30018": (_C.SENDER_REJECTED, None),  # Destination carrier requires sender ID pre-registration
    "30019": (_C.INVALID_MESSAGE, None),  # Content size exceeds carrier limit
    "30022": (_C.THROTTLED, None),  # US A2P 10DLC - Rate Limits Exceeded
    "30023": (_C.THROTTLED, None),  # US A2P 10DLC - Daily Message Cap Reached
    "30024": (_C.SENDER_REJECTED, None),  # Numeric Sender ID Not Provisioned on Carrier
    "30027": (_C.THROTTLED, None),  # US A2P 10DLC - T-Mobile Daily Message Limit Reached
    "30032": (_C.SENDER_REJECTED, None),  # Toll-Free Number Has Not Been Verified
    "30034": (_C.SENDER_REJECTED, None),  # US A2P 10DLC - Message from an Unregistered Number
    "30036": (_C.EXPIRED, None),  # Validity Period Expired: the ValidityPeriod elapsed before sending
    "30037": (_C.SENDER_REJECTED, None),  # Outbound Messaging Disabled
    "30038": (_C.CONTENT_REJECTED, None),  # OTP Message Body Filtered
    # Twilio Internal Error: "Try sending the message again".
    "30500": (_C.GENERIC, True),
}

_DONE_DATE = re.compile(r"[0-9]{10}")  # YYMMDDhhmm; never unicode digits


def parse(payload: bytes, options: Options) -> Receipt:
    body = _wire.text(payload)
    kind = _wire.detect(body)
    if kind != "query":
        raise ReceiptError(f"twilio sends status callbacks form-encoded (name=value&...), not {kind}")
    fields = _fields(body)
    warnings: list[str] = []
    message_id = _one_of(fields, "MessageSid", "SmsSid", warnings)
    said = _one_of(fields, "MessageStatus", "SmsStatus", warnings)
    word = said.lower()  # one spelling per word, whatever case arrived
    status, final = _status(options, word, said)
    code = fields.get("ErrorCode", "").strip() or None
    error_code, category, retryable = (None, None, None) if code is None else (
        _wire.error(options, NAME, ERRORS, code, warnings, "ErrorCode"))
    done = fields.get("RawDlrDoneDate", "").strip() or None
    zone = options.zone(NAME)
    # The common cases inline: a done date that reads, or none (the received time).
    when = None if done is None else _done_date_or_none(done, zone)
    if when is not None:
        event_time, raw_time = when, done
    elif done is None and options.received_at is not None:
        event_time, raw_time = options.received_at, None
    else:
        event_time, raw_time = _wire.event_time(
            ("RawDlrDoneDate", done, lambda raw: _done_date(raw, zone)), (), options, warnings)
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=word,
        event_time=event_time,
        error_code=error_code,
        error_category=category,
        retryable=retryable,
        raw_time=raw_time,
        warnings=tuple(warnings) if warnings else (),
    )


# The fields read; the others (To and From above all, with their escaped '+') are never unescaped.
_READ = ("MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode", "RawDlrDoneDate")


def _fields(body: str) -> dict[str, str]:
    """The form's fields, the ones read unescaped: _wire.query's result for
    those, at a fraction of its cost. Anything unusual (an escaped name, a
    part without '=', a repeated name, a '?') takes _wire.query's path."""
    if "?" in body:
        return _wire.query(body)
    fields: dict[str, str] = {}
    for piece in body.split("&"):
        name, sep, value = piece.partition("=")
        if not sep or "%" in name or "+" in name:
            return _wire.query(body)
        fields[name] = value
    if len(fields) != body.count("&") + 1:
        return _wire.query(body)
    for name in _READ:
        read = fields.get(name)
        if read is not None and ("%" in read or "+" in read):
            fields[name] = unquote_plus(read)
    return fields


def _one_of(fields: dict[str, str], name: str, legacy: str, warnings: list[str]) -> str:
    """`name`, else its legacy twin (noted); when both are there and disagree,
    `name` wins and the disagreement is noted. Neither: a ReceiptError."""
    value = fields.get(name, "").strip()
    old = fields.get(legacy, "").strip()
    if value:
        if old and old != value:
            warnings.append(f"{legacy}: {_wire.quoted(old)} disagrees with {name} {_wire.quoted(value)}, ignored")
        return value
    if old:
        warnings.append(f"{name}: missing; {legacy} used")
        return old
    raise ReceiptError(f"missing field {name!r}")


def _status(options: Options, word: str, said: str) -> tuple[Status, bool]:
    """(status, final) of a status word: the deployment's mapping, the table,
    or a ReceiptError naming what was said and, where known, why."""
    try:
        return _wire.status(options, NAME, STATUSES, word)
    except ReceiptError:
        why = UNDEFINED.get(word)
        if why is not None:
            raise ReceiptError(f"{NAME} status {said!r} {why}; map it in DLR_MAPPINGS if your account's meaning "
                               "is known") from None
        why = NOT_OUTBOUND.get(word)
        if why is not None:
            raise ReceiptError(f"{NAME} status {said!r} {why}: point only StatusCallback URLs at /dlr/twilio"
                               ) from None
        raise


def _done_date_or_none(raw: str, zone: dt.tzinfo) -> int | None:
    return _wire.fixed_time(raw, "%y%m%d%H%M", zone) if _DONE_DATE.fullmatch(raw) else None


def _done_date(raw: str, zone: dt.tzinfo) -> int:
    when = _done_date_or_none(raw, zone)
    if when is None:
        raise ReceiptError(f"invalid RawDlrDoneDate {raw!r}: expected YYMMDDhhmm")
    return when
