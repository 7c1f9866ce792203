"""Vonage (Nexmo) receipts: both kinds Vonage calls /dlr/vonage with, told
apart by their fields (`messageId` or `message_uuid`).

- SMS API delivery receipts: a GET query or a JSON POST to the account's or
  message's callback, fields `messageId, status, err-code, scts,
  message-timestamp, price, client-ref` and more (Nexmo/api-specification
  definitions/sms.yml, DeliveryReceipt;
  https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts).
- Messages API message status webhooks: a JSON POST with `message_uuid,
  status, timestamp` (ISO-8601), `error {type, title, detail, instance}`,
  `usage {price, currency}`, `client_ref`, `to, from, channel`
  (https://developer.vonage.com/en/messages/concepts/messages-status-callbacks;
  the Messages API's OpenAPI spec, https://developer.vonage.com/en/api/messages,
  and its older version in Nexmo/api-specification
  definitions/messages-olympus.yml, MessageStatus, whose error is `{code, reason}`).

Strict on what decides the outcome: the message id and the status word (one
Vonage's tables do not know is a ReceiptError, never a guess). Tolerant on
the rest: an unknown error code is kept without a category, a missing or
unreadable time falls back in the documented order, an unreadable price or
reference is left null, each noted in the receipt's warnings.

Phone numbers (`msisdn` and `to` of the SMS API, `to` and `from` of the
Messages API) and the channel are read by nobody here: a receipt carries no
phone number onward. The signature (the SMS API's `timestamp, nonce, sig`, the
Messages API's Authorization JWT) is checked, if at all, where the HTTP
request is received (webhook.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "vonage"

# --- the SMS API ---------------------------------------------------------------------------

# Source: delivery-receipts.md "DLR status messages".
STATUSES: dict[str, tuple[Status, bool]] = {
    "accepted": (Status.ACCEPTED, False),  # "accepted for delivery, but has not yet been delivered"
    "buffered": (Status.QUEUED, False),  # "buffered for later delivery"
    "delivered": (Status.DELIVERED, True),
    # "held at downstream carrier's retry scheme and could not be delivered within the
    # expiry time"; Vonage also sends it itself after 72 h without a final (Vonage API
    # support article 115007053127, "What kind of Delivery Receipts (DLRs) ...").
    "expired": (Status.EXPIRED, True),
    "failed": (Status.UNDELIVERED, True),  # "Message not delivered"
    "rejected": (Status.REJECTED, True),  # "Downstream carrier refuses to deliver message"
    "unknown": (Status.UNKNOWN, True),  # "No useful information available"; final by rank
}

# err-code -> (category, retryable; None = the category's default). Source:
# delivery-receipts.md "DLR error codes" (0-15, 99) for meanings, and a reseller's page
# "Understanding SMS delivery statuses" (the same vocabulary with a resolution each;
# "the reseller's page" below) for retryable: its "Try again later" reasons are retryable. 0 is "Delivered", no error.
#
# No err-code changes what the status word says. The SMS API reports expiry by its own
# word ("expired"), and err-code 1 "Unknown" is a failure whose cause is unknown, not an
# unknown outcome: "Message was not delivered and no cause could be determined"
# (https://api.support.vonage.com/hc/en-us/articles/204014733-Nexmo-SMS-Delivery-Error-Codes).
# The 1xxx codes (1330 Unknown, 1360 TTL) are the Messages API's: see FAILURE_CODE_STATUSES.
ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    "1": (ErrorCategory.GENERIC, None),  # Unknown: "no reason could be determined"
    "2": (ErrorCategory.UNREACHABLE, True),  # Absent Subscriber - Temporary: "retry"
    # Absent Subscriber - Permanent: "no longer active and should be removed".
    "3": (ErrorCategory.UNREACHABLE, False),
    "4": (ErrorCategory.BARRED, None),  # Call Barred by User: "a permanent error"
    "5": (ErrorCategory.ROUTING, None),  # Portability Error
    "6": (ErrorCategory.CONTENT_REJECTED, None),  # Anti-Spam Rejection
    "7": (ErrorCategory.UNREACHABLE, True),  # Handset Busy: "retry"; the reseller's page "Try again later"
    "8": (ErrorCategory.NETWORK, None),  # Network Error: "retry"
    # Illegal Number. The reseller's page: "Invalid number", "Confirm the receiver's number". Vonage's
    # own text reads like an opt-out ("requested not to receive messages from a specific
    # service"); either way it is not retryable.
    "9": (ErrorCategory.INVALID_NUMBER, None),
    "10": (ErrorCategory.INVALID_MESSAGE, None),  # Illegal/Invalid Message: "wrong encoding flag"
    "11": (ErrorCategory.ROUTING, None),  # Unroutable
    # Destination Unreachable; the reseller's page: "Confirm receiver's number / Try again later".
    "12": (ErrorCategory.UNREACHABLE, True),
    "13": (ErrorCategory.CONTENT_REJECTED, None),  # Subscriber Age Restriction
    "14": (ErrorCategory.BARRED, None),  # Number Blocked by Carrier: recipient must ask the carrier
    "15": (ErrorCategory.RECIPIENT_FUNDS, True),  # Prepaid Insufficient Funds; the reseller's page "Try again later"
    "99": (ErrorCategory.GENERIC, None),  # General Error: "an error in the route - contact support"
    # Newer codes, names only: Vonage's page as quoted by nyaruka/courier
    # handlers/nexmo (developer.vonage.com/messaging/sms/guides/delivery-receipts);
    # 50-54 name India's DLT scrubbing steps (entity, header = sender id, content
    # template, recipient consent). Categories are ours, not Vonage's.
    "16": (ErrorCategory.THROTTLED, None),  # Gateway Quota Exceeded
    "50": (ErrorCategory.SENDER_REJECTED, None),  # Entity Filter
    "51": (ErrorCategory.SENDER_REJECTED, None),  # Header Filter
    "52": (ErrorCategory.CONTENT_REJECTED, None),  # Content Filter
    "53": (ErrorCategory.BLACKLISTED, None),  # Consent Filter
    "54": (ErrorCategory.CONTENT_REJECTED, None),  # Regulation Error
}

# --- the Messages API ----------------------------------------------------------------------

# status -> (canonical status, final). Source: "Messages API Status Callbacks"
# (https://developer.vonage.com/en/messages/concepts/messages-status-callbacks) and the
# status enum of MessageStatus (messages-olympus.yml): exactly these five words.
MESSAGES_STATUSES: dict[str, tuple[Status, bool]] = {
    # "Messages API has passed a message on to a messaging provider" (for SMS, the carrier;
    # for WhatsApp, "Vonage has accepted the message and passed it to WhatsApp"). Handed on
    # to the next hop with no word yet that the destination network took it for delivery:
    # SENT, not ACCEPTED (the SMS API's "accepted for delivery" by the carrier), so that
    # such an acceptance, were it reported, would still rank above it. Not final: the page
    # gives delivered or rejected as SMS's "Typical Final Status". A real status, never a
    # bad receipt; SMS is charged on it ("Chargeable Event: When submitted").
    "submitted": (Status.SENT, False),
    "delivered": (Status.DELIVERED, True),
    # "the end user has read the message on their device" (WhatsApp, Viber, Messenger,
    # RCS). Our Status has no READ; read implies delivered. provider_status keeps "read".
    "read": (Status.DELIVERED, True),
    # Rejected by Vonage or the provider; "An error object is included in the payload".
    "rejected": (Status.REJECTED, True),
    # "Messages API was unable to connect to the messaging provider. This may be due to a
    # messaging provider outage or other incident": not delivered, and nothing more will come.
    "undeliverable": (Status.UNDELIVERED, True),
}

_C = ErrorCategory
# Messages API error code -> (category, retryable; None = the category's default).
# Source: Vonage's Messages API error list, https://developer.vonage.com/en/api-errors/messages
# (the `type` URL's page, formerly developer.nexmo.com/api-errors/messages-olympus), as
# published in Nexmo/api-specification definitions/messages-olympus.yml x-errors and
# Nexmo/nexmo-oas-renderer _open_api/errors/messages-olympus.md. Each comment is Vonage's
# name for the code; the categories are ours. The codes a status webhook is likely to carry
# are mapped; any other is kept without a category (and noted), never a dead letter: the
# status word, not the code, decides the outcome.
MESSAGES_ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    "1000": (_C.THROTTLED, None),  # Throttled: "Please wait and retry"
    "1010": (_C.INVALID_MESSAGE, None),  # Missing params
    "1020": (_C.INVALID_MESSAGE, None),  # Invalid params
    "1021": (_C.INVALID_MESSAGE, None),  # Invalid tag
    "1022": (_C.INVALID_MESSAGE, None),  # Invalid template
    "1030": (_C.GENERIC, None),  # Internal error
    # Invalid message: "unable to process your request. For example, due to an unrecognised
    # prefix for the phone number".
    "1040": (_C.INVALID_MESSAGE, None),
    "1050": (_C.BLACKLISTED, None),  # Number barred: "blacklisted and may not receive messages"
    "1060": (_C.SENDER_REJECTED, None),  # Partner account barred
    "1070": (_C.ACCOUNT_FUNDS, None),  # Partner quota exceeded: "does not have sufficient credit"
    "1090": (_C.INVALID_MESSAGE, None),  # Message too long
    "1100": (_C.NETWORK, None),  # Communication Failed
    "1120": (_C.SENDER_REJECTED, None),  # Illegal Sender Address - rejected
    "1130": (_C.INVALID_MESSAGE, None),  # Invalid TTL
    "1150": (_C.INVALID_MESSAGE, None),  # Invalid Message class
    "1170": (_C.INVALID_NUMBER, None),  # Invalid or Missing Msisdn Param
    "1180": (_C.UNREACHABLE, True),  # Absent Subscriber Temporary: "retry later"
    "1190": (_C.UNREACHABLE, False),  # Absent Subscriber Permanent: "remove this phone number"
    "1200": (_C.ROUTING, None),  # Portability Error
    "1210": (_C.CONTENT_REJECTED, None),  # Anti-Spam Rejection
    "1220": (_C.UNREACHABLE, True),  # Handset Busy: "a temporary failure; retry later"
    "1230": (_C.NETWORK, None),  # Network Error: "a temporary failure, retry later"
    "1240": (_C.BLACKLISTED, None),  # Illegal Number: "already sent a STOP opt-out message"
    "1241": (_C.THROTTLED, None),  # Too many send requests
    "1250": (_C.ROUTING, None),  # Unroutable
    "1260": (_C.UNREACHABLE, True),  # Destination unreachable
    "1270": (_C.CONTENT_REJECTED, None),  # Subscriber Age Restriction
    "1280": (_C.BARRED, None),  # Number Blocked by Carrier
    "1290": (_C.RECIPIENT_FUNDS, None),  # Pre-Paid - Insufficient funds
    "1300": (_C.INVALID_NUMBER, None),  # Not part of the provider network: "not a user in the provider network"
    "1310": (_C.UNREACHABLE, False),  # Not suitable device: "The user's device can't receive the message"
    "1330": (_C.GENERIC, None),  # Unknown: "An unknown error was received from the carrier"
    "1331": (_C.NETWORK, None),  # Provider error: "try sending your message in a few minutes time"
    # Outside of the allowed window (a reply window, WhatsApp's 24 hours): another kind of
    # message (a template) is needed.
    "1340": (_C.INVALID_MESSAGE, None),
    "1360": (_C.EXPIRED, None),  # TTL was activated
    "1380": (_C.INVALID_MESSAGE, None),  # Invalid resource (a media URL)
    "1381": (_C.INVALID_MESSAGE, None),  # Resource size is too large
    "1382": (_C.INVALID_MESSAGE, None),  # Resource type is invalid
}

# A failure word ("rejected", "undeliverable") whose error code says more than the word:
# the code's (status, final). Source: the Messages API error list above. 1360 "TTL was
# activated": the message's time to live (the request's `ttl`) ran out before it was
# delivered, so the message expired. Considered and left out: 1330 "Unknown - An unknown
# error was received from the carrier who tried to send this message" is a failure whose
# cause is unknown, not an unknown outcome (the carrier did report a failure), so it stays
# with its word, category GENERIC. The SMS API has no such code (see ERRORS).
FAILURE_CODE_STATUSES: dict[str, tuple[Status, bool]] = {
    "1360": (Status.EXPIRED, True),
}
_FAILURE_WORDS = frozenset({"rejected", "undeliverable"})

_SCTS = re.compile(r"[0-9]{10}")  # YYMMDDHHMM; never unicode digits
_CODE = re.compile(r"[0-9]{1,8}")


def parse(payload: bytes, options: Options) -> Receipt:
    body = _wire.text(payload)
    kind = _wire.detect(body)
    if kind == "json":
        fields = _wire.json_object(body)
        if "message_uuid" in fields:
            if "messageId" in fields:
                raise ReceiptError("both messageId (SMS API) and message_uuid (Messages API): which message is it?")
            return _messages(fields, options)
        return _sms(fields, options)
    if kind == "query":
        return _sms(_wire.query(body), options)
    raise ReceiptError("vonage sends no SMPP receipt text")


def _sms(fields: dict[str, Any], options: Options) -> Receipt:
    message_id = _wire.field_text(fields, "messageId")
    word = _wire.field_text(fields, "status")
    assert message_id is not None and word is not None  # required=True guarantees it
    sent, word = word, word.lower()  # one spelling per word, whatever case arrived
    try:
        status, final = _wire.status(options, NAME, STATUSES, word)
    except ReceiptError:
        raise _unknown_status(sent) from None
    warnings: list[str] = []
    err = _optional(fields, "err-code", warnings)
    if err is not None and err.isascii() and err.isdigit():
        err = err.lstrip("0") or "0"
    code, category, retryable = (None, None, None) if err is None or err == "0" else (
        _wire.error(options, NAME, ERRORS, err, warnings, "err-code"))
    # The fast path: scts as Vonage sends it. Anything else takes the documented order.
    scts = _optional(fields, "scts", warnings)
    zone = options.zone(NAME)
    try:
        event_time, raw_time = _scts_time(scts, zone), scts
    except ReceiptError:
        event_time, raw_time = _sms_fallback_time(fields, scts, zone, options, warnings)
    price = _wire.optional_decimal(fields, "price", warnings)
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=word,
        event_time=event_time,
        error_code=code,
        error_category=category,
        retryable=retryable,
        reference=_optional(fields, "client-ref", warnings),
        price=price,
        raw_time=raw_time,
        warnings=tuple(warnings) if warnings else (),
    )


def _unknown_status(word: str) -> ReceiptError:
    """The words are looked up in lower case; the reason quotes the word as sent."""
    return ReceiptError(f"unknown {NAME} status {_wire.clip(word, 40)!r}")


def _optional(fields: dict[str, Any], name: str, warnings: list[str]) -> str | None:
    """_wire.optional_text with its common case (text, or absent) inline: this is the hot path."""
    value = fields.get(name)
    if type(value) is str:
        value = value.strip()
        return value or None
    return None if value is None else _wire.optional_text(fields, name, warnings)


def _scts_time(scts: str | None, zone: dt.tzinfo) -> int:
    """scts is "when the DLR was received from the carrier" (sms.yml): the status time.
    It is the carrier's local time: in the docs' example, scts 1810251310 for a UK network
    sits beside message-timestamp 2018-10-25 12:10:29, one hour (BST) apart; hence the
    zone option."""
    if scts is None:
        raise ReceiptError("no scts")
    when = _wire.fixed_time(scts, "%y%m%d%H%M", zone) if _SCTS.fullmatch(scts) else None
    if when is None:
        raise ReceiptError(f"invalid scts {scts!r}: expected YYMMDDHHMM")
    return when


def _sms_fallback_time(fields: dict[str, Any], scts: str | None, zone: dt.tzinfo, options: Options,
                       warnings: list[str]) -> tuple[int, str | None]:
    """The SMS API's times in order: scts, then `message-timestamp` ("when Vonage started
    to push this DLR", UTC), then `timestamp` (signed webhooks only: the same in unix
    seconds), then the received time; which one was used is noted."""

    def pushed(value: str) -> int:
        when = _wire.fixed_time(value, "%Y-%m-%d %H:%M:%S", _wire.UTC)
        if when is None:
            raise ReceiptError(f"invalid time {value!r}")
        return when

    return _wire.event_time(
        ("scts", scts, lambda value: _scts_time(value, zone)),
        (("message-timestamp", _wire.optional_text(fields, "message-timestamp", warnings), pushed),
         ("timestamp", _wire.optional_text(fields, "timestamp", warnings), _wire.unix_seconds)),
        options, warnings,
    )


def _messages(fields: dict[str, Any], options: Options) -> Receipt:
    message_id = _wire.field_text(fields, "message_uuid")
    word = _wire.field_text(fields, "status")
    assert message_id is not None and word is not None  # required=True guarantees it
    sent, word = word, word.lower()
    try:
        status, final = _wire.status(options, NAME, MESSAGES_STATUSES, word)
    except ReceiptError:
        raise _unknown_status(sent) from None
    warnings: list[str] = []
    code, category, retryable = _wire.error(
        options, NAME, MESSAGES_ERRORS, _error_code(fields.get("error"), warnings), warnings, "error")
    if code is not None and word in _FAILURE_WORDS:
        status, final = FAILURE_CODE_STATUSES.get(code, (status, final))
    # `timestamp`: "The datetime of when the event occurred" (ISO-8601, UTC with a Z); there
    # is no other time in the webhook, so the received time is the fallback.
    event_time, raw_time = _wire.event_time(
        ("timestamp", _wire.optional_text(fields, "timestamp", warnings), _iso_utc), (), options, warnings)
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=word,
        event_time=event_time,
        error_code=code,
        error_category=category,
        retryable=retryable,
        reference=_wire.optional_text(fields, "client_ref", warnings),
        # usage.currency is EUR ("The charge currency in ISO 4217 format", enum EUR);
        # Receipt.price is the amount as sent, like the SMS API's price.
        price=_usage_price(fields.get("usage"), warnings),
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _iso_utc(value: str) -> int:
    return _wire.iso_time(value, _wire.UTC)


def _error_code(error: object, warnings: list[str]) -> str | None:
    """The code of a Messages API error object. v1 sends RFC 7807 problem details, the
    code at the end of `type` ("https://developer.nexmo.com/api-errors/messages-olympus#1320")
    and in `title` (as text or a number; title may also be short text); v0.1 sent
    `{code, reason}`. `type` is read first, then `title`, then `code`."""
    if error is None:
        return None
    if not isinstance(error, dict):
        warnings.append(f"error: not an object {_wire.quoted(error)}, ignored")
        return None
    kind = error.get("type")
    if isinstance(kind, str):
        fragment = kind.rpartition("#")[2].strip()
        if "#" in kind and _CODE.fullmatch(fragment):
            return fragment
    for name in ("title", "code"):
        value = error.get(name)
        if type(value) is int and value >= 0:
            return str(value)
        if isinstance(value, str) and _CODE.fullmatch(value.strip()):
            return value.strip()
    if error:  # an empty object says nothing, and nothing is ignored
        warnings.append(f"error: no code in {_wire.quoted(error)}, ignored")
    return None


def _usage_price(usage: object, warnings: list[str]) -> str | None:
    if usage is None:
        return None
    if not isinstance(usage, dict):
        warnings.append(f"usage: not an object {_wire.quoted(usage)}, ignored")
        return None
    return _wire.optional_decimal(usage, "price", warnings, "usage.price")
