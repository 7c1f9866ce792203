"""Sinch SMS REST API delivery reports, as callbacks: a JSON POST to the
batch's callback_url (https://developers.sinch.com/docs/sms/api-reference/sms/
tag/Webhooks/; the report's fields, https://developers.sinch.com/docs/sms/
api-reference/sms/tag/Delivery-reports/, as in sinch/sinch-sdk-python
sinch/domains/sms/models/v1/response/recipient_delivery_report.py).

- A recipient delivery report, `type` recipient_delivery_report_sms (or _mms,
  the same fields), is one receipt: `batch_id`, `recipient`, `status`,
  `code`, `at` ("when the Delivery Report was created in the Sinch service"),
  `operator_status_at` ("extracted from the Delivery Receipt from the
  originating SMSC", only when there was one), `client_reference`.
  The message id is `<batch_id>:<recipient>` (see __init__.py on the phone
  number in it).
- A batch delivery report, `type` delivery_report_sms (or _mms), counts the
  batch's recipients per status: it says of no one message what became of
  it, so it is refused with that reason (the batch's `delivery_report` must
  be per_recipient or per_recipient_final for receipts to come).

Strict on what decides the outcome: the batch id, the recipient and the
status word (one the table does not know is a ReceiptError, never a guess).
Tolerant on the rest: an unknown code is kept without a category, a missing
or unreadable time falls back (operator_status_at, then at, then the received
time), an unreadable client_reference is left null, each noted in warnings.

The sender (`applied_originator`) and the `operator` are read by nobody here.
The signature (x-sinch-webhook-signature) is checked where the request is
received (webhook.py).
"""

from __future__ import annotations

from typing import Any

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "sinch"

# status -> (canonical status, final), keyed case-folded. Source: "Delivery report
# statuses", https://developers.sinch.com/docs/sms/api-reference/sms/tag/Delivery-reports/
# (each status is typed Intermediate or Final there; the enum is DeliveryReportStatusEnum in
# sinch/sinch-sdk-node and DeliveryReportStatus in sinch/sinch-sdk-java).
STATUSES: dict[str, tuple[Status, bool]] = {
    # Intermediate: "queued within REST API system and will be dispatched according to the
    # rate of the account".
    "queued": (Status.QUEUED, False),
    # Intermediate: "dispatched and accepted for delivery by the SMSC": handed on to the
    # network, no word of the handset yet.
    "dispatched": (Status.SENT, False),
    # Final: "aborted before reaching the SMSC" (code 402 unroutable, 403 internal error,
    # 410-413 account and originator problems): refused before any delivery attempt.
    "aborted": (Status.REJECTED, True),
    "cancelled": (Status.CANCELLED, True),  # Final: "cancelled by user before reaching SMSC"
    "rejected": (Status.REJECTED, True),  # Final: "rejected by the SMSC"
    # Final: "deleted by a remote SMSC. This may happen if the destination is an invalid
    # MSISDN or opted out subscriber": withdrawn, as SMPP's DELETED.
    "deleted": (Status.CANCELLED, True),
    "delivered": (Status.DELIVERED, True),  # Final: "Message has been delivered."
    "failed": (Status.UNDELIVERED, True),  # Final: "Message failed to be delivered."
    # Final: "expired before delivery to the SMSC" (code 406, a very short expiry).
    "expired": (Status.EXPIRED, True),
    # Final: "delivered to the SMSC but no Delivery Receipt has been received or a Delivery
    # Receipt that couldn't be interpreted was received".
    "unknown": (Status.UNKNOWN, True),
}
# provider_status in Sinch's own spelling, whatever case arrived.
SPELLING: dict[str, str] = {word: word.capitalize() for word in STATUSES}

RECIPIENT_REPORTS = frozenset({"recipient_delivery_report_sms", "recipient_delivery_report_mms"})
BATCH_REPORTS = frozenset({"delivery_report_sms", "delivery_report_mms"})

# Codes that only restate a status that is no failure: 0 comes with Delivered, 400 Queued,
# 401 Dispatched, 407 Cancelled ("cancelled by user"). No error is reported for them.
NOT_ERRORS = frozenset({"0", "400", "401", "407"})

_C = ErrorCategory
# code -> (category, retryable; None = the category's default). Source: "Delivery report
# error codes", https://developers.sinch.com/docs/sms/api-reference/sms/tag/Delivery-reports/,
# as published in sinch/sinch-sdk-java DeliveryReceiptStatusCode (Sinch's descriptions quoted
# below); the categories are ours. Sinch's codes are these "custom codes" and, passed
# through, the SMPP status report codes of its SMSCs
# (https://developers.sinch.com/docs/sms/smpp/error-codes/): those are kept without a
# category and noted, never a dead letter. The status word, not the code, decides the outcome.
ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    # Message unroutable: "SMSC rejected message. Retrying is likely to cause the same error."
    "402": (_C.ROUTING, None),
    "403": (_C.GENERIC, None),  # Internal error: "An unexpected error caused the message to fail."
    # Temporary delivery failure: "Message can be retried."
    "404": (_C.NETWORK, True),
    # Unmatched Parameter: "One or more parameters in the message body has no mapping for
    # this recipient" (message parameterization).
    "405": (_C.INVALID_MESSAGE, None),
    "406": (_C.EXPIRED, None),  # Internal Expiry: "expired before reaching SMSC"
    # Internal Reject: "SMSC rejected the message. Retrying is likely to cause the same error."
    "408": (_C.GENERIC, False),
    # Unmatched default originator: "No default originator exists/configured for this
    # recipient when sending message without originator."
    "410": (_C.SENDER_REJECTED, None),
    "411": (_C.INVALID_MESSAGE, None),  # Exceeded parts limit
    # Unprovisioned region: "The account hasn't been provisioned for this region."
    "412": (_C.ROUTING, None),
    # Blocked: "The account is blocked. Reach out to support for help. Potentially out of credits."
    "413": (_C.ACCOUNT_FUNDS, None),
    # MMS only.
    "414": (_C.INVALID_MESSAGE, None),  # Bad Media: "a bad media URL"
    "415": (_C.GENERIC, None),  # "rejected by MMS gateway or mobile network"
    "416": (_C.INVALID_MESSAGE, None),  # "reached MMSC but it is not supported"
    "417": (_C.UNREACHABLE, None),  # "the destination network or the mobile subscriber cannot be reached"
    "418": (_C.INVALID_MESSAGE, None),  # "the handset ... does not recognize the message content"
}


def parse(payload: bytes, options: Options) -> Receipt:
    body = _wire.text(payload)
    if body[0] != "{":
        raise ReceiptError("sinch sends delivery reports as a JSON object")
    fields = _wire.json_object(body)
    kind = _wire.field_text(fields, "type")
    if kind not in RECIPIENT_REPORTS:
        if kind in BATCH_REPORTS:
            raise ReceiptError(f"sinch {kind!r} is a batch delivery report (recipients counted per status), "
                               "not a receipt of one message: set the batch's delivery_report to per_recipient")
        raise ReceiptError(f"unsupported sinch type {_wire.clip(str(kind), 40)!r}: expected "
                           "recipient_delivery_report_sms")
    batch_id = _required(fields, "batch_id")
    recipient = _required(fields, "recipient")
    said = _required(fields, "status")
    word = said.casefold()
    status, final = _wire.status(options, NAME, STATUSES, word)
    warnings: list[str] = []
    code = _wire.optional_text(fields, "code", warnings)
    if code is not None and code in NOT_ERRORS:
        code = None
    error_code, category, retryable = _wire.error(options, NAME, ERRORS, code, warnings, "code")
    event_time, raw_time = _event_time(fields, options, warnings)
    return Receipt(
        provider=NAME,
        message_id=f"{batch_id}:{recipient}",
        status=status,
        final=final,
        provider_status=SPELLING.get(word, said),
        event_time=event_time,
        error_code=error_code,
        error_category=category,
        retryable=retryable,
        reference=_wire.optional_text(fields, "client_reference", warnings),
        raw_time=raw_time,
        warnings=tuple(warnings) if warnings else (),
    )


def _event_time(fields: dict[str, Any], options: Options, warnings: list[str]) -> tuple[int, str | None]:
    """operator_status_at, the time the SMSC's own receipt gives, when Sinch had one;
    else `at`, when Sinch made the report (for Queued and Dispatched, and for outcomes
    no SMSC timed, the status time there is); else the received time. operator_status_at
    is optional, so its absence is no fault and not noted; an unreadable one is, and so
    is a missing or unreadable `at`."""
    operator = _wire.optional_text(fields, "operator_status_at", warnings)
    at = ("at", _wire.optional_text(fields, "at", warnings), _iso_utc)
    if operator is None:
        return _wire.event_time(at, (), options, warnings)
    return _wire.event_time(("operator_status_at", operator, _iso_utc), (at,), options, warnings)


def _iso_utc(value: str) -> int:
    return _wire.iso_time(value, _wire.UTC)


def _required(fields: dict[str, Any], name: str) -> str:
    value = _wire.field_text(fields, name)
    if value is None:  # field_text already raises; this narrows the type for mypy
        raise ReceiptError(f"missing field {name!r}")
    return value
