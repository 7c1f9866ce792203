"""Vonage (Nexmo) SMS API delivery receipts: a GET query or a JSON POST to the
account's or message's callback, fields `messageId, status, err-code, scts,
message-timestamp, price, client-ref` and more (Nexmo/api-specification
definitions/sms.yml, DeliveryReceipt; Nexmo/station
_documentation/en/messaging/sms/guides/delivery-receipts.md).

`msisdn` (the recipient) and `to` (the sender id) are read by nobody here: a
receipt carries no phone number onward. The signature fields (`timestamp, nonce,
sig`) are checked, if at all, where the HTTP request is received.
"""

from __future__ import annotations

import re
from typing import Any

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, error_fields
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "vonage"

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

_SCTS = re.compile(r"[0-9]{10}")  # YYMMDDHHMM; never unicode digits
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse(payload: bytes, options: Options) -> Receipt:
    body = _wire.text(payload)
    kind = _wire.detect(body)
    if kind == "smpp":
        raise ReceiptError("vonage sends no SMPP receipt text")
    fields = _wire.json_object(body) if kind == "json" else _wire.query(body)
    message_id = _wire.field_text(fields, "messageId")
    word = _wire.field_text(fields, "status")
    assert message_id is not None and word is not None  # required=True guarantees it
    try:
        status, final = STATUSES[word.lower()]
    except KeyError:
        raise ReceiptError(f"unknown {NAME} status {word!r}") from None
    err = _wire.field_text(fields, "err-code", required=False)
    if err is not None and err.isascii() and err.isdigit():
        err = err.lstrip("0") or "0"
    code, category, retryable = error_fields(None if err == "0" else err, ERRORS, NAME)
    event_time, raw_time = _event_time(fields, options)
    price = _wire.field_text(fields, "price", required=False)
    if price is not None and not _DECIMAL.fullmatch(price):
        raise ReceiptError(f"invalid vonage price {price!r}")
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=word.lower(),  # one spelling per word, whatever case arrived
        event_time=event_time,
        error_code=code,
        error_category=category,
        retryable=retryable,
        reference=_wire.field_text(fields, "client-ref", required=False),
        price=price,
        raw_time=raw_time,
    )


def _event_time(fields: dict[str, Any], options: Options) -> tuple[int, str | None]:
    """(micros UTC, the text it was read from). `scts` is "when the DLR was received
    from the carrier" (sms.yml): the status time. `message-timestamp` is only "when
    Vonage started to push this DLR", so it is the fallback. scts is the carrier's
    local time: in the docs' example, scts 1810251310 for a UK network sits beside
    message-timestamp 2018-10-25 12:10:29, one hour (BST) apart; hence the zone option."""
    scts = _wire.field_text(fields, "scts", required=False)
    if scts is not None:
        if not _SCTS.fullmatch(scts):
            raise ReceiptError(f"invalid scts {scts!r}: expected YYMMDDHHMM")
        return _wire.local_time(scts, ("%y%m%d%H%M",), options.zone(NAME)), scts
    pushed = _wire.field_text(fields, "message-timestamp", required=False)
    if pushed is not None:
        return _wire.local_time(pushed, ("%Y-%m-%d %H:%M:%S",), _wire.UTC), pushed
    # `timestamp` (signed webhooks only) is message-timestamp in unix seconds.
    unix = _wire.field_text(fields, "timestamp", required=False)
    if unix is not None:
        return _wire.unix_seconds(unix), unix
    if options.received_at is None:
        raise ReceiptError("no time in receipt and no received_at in options")
    return options.received_at, None
