"""Messente delivery receipts, two wire formats:

- the legacy SMS API's GET to `dlr-url`: `sms_unique_id`, `stat`, `err`, `status`,
  `dlr-mask` (Messente's support article 137, "Delivery Reports",
  support.messente.com/article/137-delivery-reports; messente.com/documentation/
  sms-messaging/delivery-report);
- the Omnichannel API's JSON POST to `dlr_url`: `message_id`, `status`, `err`,
  `timestamp`, `price_info` (messente.com/documentation/omnichannel-api/delivery-report;
  messente/messente-api-python docs/DeliveryResult.md, Status.md, PriceInfo.md).

Neither carries a client reference, so `reference` is always None.
"""

from __future__ import annotations

from typing import Any

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "messente"

# `stat` (legacy) and `status` (Omnichannel) share one vocabulary.
# Source: article 137 ("stat" list); messente-api-python docs/Status.md adds ACK and SEEN.
STAT: dict[str, tuple[Status, bool]] = {
    # ACK is undocumented beyond the enum; it is the positive twin of NACK ("not
    # accepted for delivery"), so the carrier took the message: SENT, which article 137
    # defines as "submitted for delivery by the carrier, final status not yet clear".
    "ACK": (Status.SENT, False),
    # "accepted for delivery": the carrier may still retry, so not final (Kannel and
    # Jasmin lost DELIVRD receipts by treating it as final: jookies/jasmin PR #613).
    "ACCEPTD": (Status.ACCEPTED, False),
    "DELIVRD": (Status.DELIVERED, True),
    # Seen on the handset implies delivered to it; err 10 "Seen" is no failure.
    "SEEN": (Status.DELIVERED, True),
    "UNDELIV": (Status.UNDELIVERED, True),
    # Article 137 (the API reference) says "Failed to deliver SMS to this number" and the
    # dashboard files Failed under "has not been delivered", apart from Rejected "not
    # accepted for delivery". "The carrier did not accept" in Messente's blog post "Sent,
    # Delivered, Failed, Undelivered - What's the difference?" (2017) is about the
    # carrier leg, after Messente itself accepted the message; REJECTED stays for
    # refusals before sending (REJECTD, NACK; errs 4, 6, 7, 8, which Messente's FAQ
    # "Delivery Status and Error codes", messente.com/documentation/faq/error-codes,
    # files under Rejected, not charged).
    "FAILED": (Status.UNDELIVERED, True),
    "UNKNOWN": (Status.UNKNOWN, True),
    "REJECTD": (Status.REJECTED, True),
    "NACK": (Status.REJECTED, True),
    # "deleted from the delivery queue": withdrawn before delivery, not a failure.
    "DELETED": (Status.CANCELLED, True),
    "EXPIRED": (Status.EXPIRED, True),
}

# Legacy `status`, the summary of `stat`. Source: article 137 ("DELIVERED ... final",
# "FAILED - SMS could not be delivered. This is a final status", "SENT ... not yet").
GENERAL_STATUS: dict[str, tuple[Status, bool]] = {
    "DELIVERED": (Status.DELIVERED, True),
    "FAILED": (Status.UNDELIVERED, True),
    "SENT": (Status.SENT, False),
}

# Legacy `dlr-mask` (Kannel's event bits). Source: article 137 "1 = DELIVERED,
# 2,16 = FAILED, 4,8 = SENT".
DLR_MASK: dict[str, tuple[Status, bool]] = {
    "1": GENERAL_STATUS["DELIVERED"],
    "2": GENERAL_STATUS["FAILED"],
    "16": GENERAL_STATUS["FAILED"],
    "4": GENERAL_STATUS["SENT"],
    "8": GENERAL_STATUS["SENT"],
}

# `err`, keyed by the code without leading zeros: the legacy GET sends "001", the
# Omnichannel JSON sends 1; both are code "1". Sources: article 137 (000-008, 999) and
# messente-api-python docs/ErrorCodeOmnichannelMachine.md (adds 9, 10).
ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    "1": (ErrorCategory.GENERIC, None),  # "Failed to deliver SMS to this number", no reason
    "2": (ErrorCategory.EXPIRED, None),  # "Sending SMS expired in 6 hours"
    "3": (ErrorCategory.INVALID_NUMBER, None),  # "Invalid number"
    "4": (ErrorCategory.ACCOUNT_FUNDS, None),  # "Error crediting Account"
    # "Could not determine the destination country/operator or invalid number format"
    "5": (ErrorCategory.INVALID_NUMBER, None),
    # "Too many identical messages ... blocked for 60 minutes": passes with time.
    "6": (ErrorCategory.THROTTLED, True),
    "7": (ErrorCategory.SENDER_REJECTED, None),  # "Sender name not allowed"
    "8": (ErrorCategory.BLACKLISTED, None),  # "Number is in blacklist"
    "9": (ErrorCategory.ROUTING, None),  # "Unroutable"
    # "General temporary error"; the delivery-report docs' example says "retry sending".
    "999": (ErrorCategory.GENERIC, True),
}
NO_ERROR = frozenset({"0", "10"})  # 0 "No error"; 10 "Seen" echoes the SEEN status



def parse(payload: bytes, options: Options) -> Receipt:
    body = _wire.text(payload)
    kind = _wire.detect(body)
    if kind == "json":
        return _omnichannel(_wire.json_object(body), options)
    if kind == "query":
        return _legacy(_wire.query(body), options)
    raise ReceiptError("messente sends no SMPP receipt text")


def _omnichannel(fields: dict[str, Any], options: Options) -> Receipt:
    warnings: list[str] = []
    message_id = _wire.field_text(fields, "message_id")
    word = _wire.field_text(fields, "status")
    assert message_id is not None and word is not None  # required=True guarantees it
    word, status, final = _lookup(options, STAT, word, "status")
    code, category, retryable = _wire.error(
        options, NAME, ERRORS, _code(_wire.optional_text(fields, "err", warnings)), warnings
    )
    # "When this status was received by Omnichannel API" (DeliveryResult.md), no zone.
    zone = options.zone(NAME)
    event_time, raw_time = _wire.event_time(
        ("timestamp", _wire.optional_text(fields, "timestamp", warnings), lambda raw: _wire.iso_time(raw, zone)),
        (), options, warnings,
    )
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
        price=_price(fields.get("price_info"), warnings),
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _legacy(fields: dict[str, str], options: Options) -> Receipt:
    warnings: list[str] = []
    message_id = _wire.field_text(fields, "sms_unique_id")
    assert message_id is not None  # required=True guarantees it
    provider_status, status, final = _legacy_status(fields, options)
    code, category, retryable = _wire.error(
        options, NAME, ERRORS, _code(_wire.field_text(fields, "err", required=False)), warnings
    )
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=provider_status,
        # The GET has no time. Messente makes it "when the DLR is received", so the
        # time we received it is the status time, give or take its 5 retries.
        event_time=_received_at(options),
        error_code=code,
        error_category=category,
        retryable=retryable,
        warnings=tuple(warnings),
    )


def _legacy_status(fields: dict[str, str], options: Options) -> tuple[str, Status, bool]:
    # Most detailed first: article 137 says `stat` "provides more detailed information"
    # than `status`, and `dlr-mask` is only the numeric form of `status`.
    for name, table in (("stat", STAT), ("status", GENERAL_STATUS), ("dlr-mask", DLR_MASK)):
        word = _wire.field_text(fields, name, required=False)
        if word is not None:
            word, status, final = _lookup(options, table, word, name)
            # A bare "2" would not say which vocabulary it came from.
            return (f"dlr-mask={word}" if name == "dlr-mask" else word), status, final
    raise ReceiptError("messente receipt has no 'stat', 'status' or 'dlr-mask'")


def _lookup(options: Options, table: dict[str, tuple[Status, bool]], word: str, what: str
            ) -> tuple[str, Status, bool]:
    """(the word as the table spells it, status, final)."""
    key = word.upper()  # the docs' own example upper-cases `stat` before comparing
    try:
        status, final = _wire.status(options, NAME, table, key)
    except ReceiptError:
        raise ReceiptError(f"unknown {NAME} {what} {word!r}") from None
    return key, status, final


def _code(err: str | None) -> str | None:
    """One text per code whatever the padding; None for the no-error codes."""
    if err is None:
        return None
    if err.isascii() and err.isdigit():
        err = err.lstrip("0") or "0"
    return None if err in NO_ERROR else err


def _price(price_info: Any, warnings: list[str]) -> str | None:
    # price_info is null "if the message is still being processed" (PriceInfo.md).
    if price_info is None:
        return None
    if not isinstance(price_info, dict):
        warnings.append(f"price_info: not an object {_wire.quoted(price_info)}, ignored")
        return None
    return _wire.optional_decimal(price_info, "total_price", warnings)


def _received_at(options: Options) -> int:
    if options.received_at is None:
        raise ReceiptError("no time in receipt and no received_at in options")
    return options.received_at
