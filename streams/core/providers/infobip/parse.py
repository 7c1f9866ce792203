"""Infobip SMS delivery reports: a JSON POST of `{"results": [report, ...]}`,
each report of one message:

    {"bulkId": "...", "messageId": "...", "to": "41793026727",
     "sentAt": "2019-11-09T16:00:00.000+0000", "doneAt": "2019-11-09T16:00:00.000+0000",
     "smsCount": 1, "mccMnc": "22801", "callbackData": "...",
     "price": {"pricePerMessage": 0.01, "currency": "EUR"},
     "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET", ...},
     "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": false, ...}}

Sources: Infobip's "Receive outbound SMS message report" webhook
(infobip.com/docs/api/channels/sms/sms-messaging/logs-and-status-reports/
receive-outbound-sms-message-report) for the fields; "Message status codes"
(infobip.com/docs/developer-resources/api-fundamentals/message-status-codes)
for the status groups and which statuses are final; "Response status and error
codes" (infobip.com/docs/essentials/api-essentials/response-status-and-error-codes)
for the error ids and the `permanent` flag.

One post holds up to 100 reports (`maxBucketSize`), and may repeat a message
id (a transient and a final of one message): each report is its own receipt,
and a bad one is its own error, so it never costs its good siblings.
"""

from __future__ import annotations

from typing import Any

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "infobip"

# Status group -> (canonical status, final). The group says the outcome; the
# status `name` (kept as provider_status) refines it. "Message status codes":
# PENDING_* is in flight, UNDELIVERABLE_*, EXPIRED_* and REJECTED_* are final.
GROUPS: dict[str, tuple[Status, bool]] = {
    "PENDING": (Status.SENT, False),
    "UNDELIVERABLE": (Status.UNDELIVERED, True),
    "DELIVERED": (Status.DELIVERED, True),
    "EXPIRED": (Status.EXPIRED, True),
    "REJECTED": (Status.REJECTED, True),
}

# Status names whose meaning differs from their group's ("Message status codes").
STATUSES: dict[str, tuple[Status, bool]] = {
    # "Intermediate. Reached the operator, not yet the handset. A further DLR
    # may follow": in the DELIVERED group, but not a handset delivery.
    "DELIVERED_TO_OPERATOR": (Status.ACCEPTED, False),
    # Accepted by Infobip and not yet sent on: held, not in the network yet.
    "PENDING_ACCEPTED": (Status.QUEUED, False),
}

# Error id -> (category, retryable or None for the category's default). Infobip's
# handset errors (group 1) carry the GSM MAP error numbers (3GPP TS 29.002,
# section 17.6.6: 1 unknownSubscriber, 5 unidentifiedSubscriber, 6 absentSubscriberSM,
# 9 illegalSubscriber, 11 teleserviceNotProvisioned, 13 callBarred, 27 absentSubscriber,
# 31 subscriberBusyForMT-SMS, 32 sm-DeliveryFailure, 33 messageWaitingListFull,
# 34 systemFailure), under Infobip's names (EC_UNKNOWN_SUBSCRIBER, ...).
# A report's own `permanent` flag, where given, decides `retryable` over the table.
_C = ErrorCategory
ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    "1": (_C.INVALID_NUMBER, None),  # EC_UNKNOWN_SUBSCRIBER
    "5": (_C.INVALID_NUMBER, None),  # EC_UNIDENTIFIED_SUBSCRIBER
    "6": (_C.UNREACHABLE, None),  # EC_ABSENT_SUBSCRIBER_SM
    "9": (_C.BARRED, None),  # EC_ILLEGAL_SUBSCRIBER
    "11": (_C.ROUTING, None),  # EC_TELESERVICE_NOT_PROVISIONED
    "13": (_C.BARRED, None),  # EC_CALL_BARRED
    "27": (_C.UNREACHABLE, None),  # EC_ABSENT_SUBSCRIBER
    "31": (_C.UNREACHABLE, None),  # EC_SUBSCRIBER_BUSY_FOR_MT_SMS
    "32": (_C.NETWORK, None),  # EC_SM_DELIVERY_FAILURE
    "33": (_C.UNREACHABLE, None),  # EC_MESSAGE_WAITING_LIST_FULL
    "34": (_C.NETWORK, None),  # EC_SYSTEM_FAILURE
}
_NO_ERROR = "0"  # NO_ERROR, in group 0 (OK)


def parse(payload: bytes, options: Options) -> Receipt:
    """A post of exactly one report (what `dlr normalize` and the generators
    handle per line); several are `parse_all`'s."""
    results = parse_all(payload, options)
    if len(results) != 1:
        raise ReceiptError(f"{NAME} post holds {len(results)} reports, not one: read it with parse_all")
    result = results[0]
    if isinstance(result, ReceiptError):
        raise result
    return result


def parse_all(payload: bytes, options: Options) -> list[Receipt | ReceiptError]:
    """Every report of a post: a receipt, or the error of that report alone
    ("report 3 of 5: ..."). A post that is not a batch at all is one error."""
    body = _wire.json_object(_wire.text(payload))
    reports = body.get("results")
    if not isinstance(reports, list):
        raise ReceiptError(f"{NAME} post has no 'results' list")
    if not reports:
        raise ReceiptError(f"{NAME} post has an empty 'results' list")
    out: list[Receipt | ReceiptError] = []
    for number, report in enumerate(reports, 1):
        try:
            if not isinstance(report, dict):
                raise ReceiptError(f"a {type(report).__name__}, not an object")
            out.append(_report(report, options))
        except ReceiptError as exc:
            out.append(ReceiptError(f"report {number} of {len(reports)}: {exc}") if len(reports) > 1 else exc)
    return out


def _report(report: dict[str, Any], options: Options) -> Receipt:
    warnings: list[str] = []
    message_id = _wire.field_text(report, "messageId")
    assert message_id is not None  # required=True guarantees it
    status_object = report.get("status")
    if not isinstance(status_object, dict):
        raise ReceiptError("missing field 'status' (an object)")
    name = _wire.field_text(status_object, "name")
    group = _wire.field_text(status_object, "groupName")
    assert name is not None and group is not None
    status, final = _status(options, name.upper(), group.upper())
    code, category, retryable = _error(report.get("error"), options, warnings)
    zone = options.zone(NAME)

    def iso(value: str) -> int:
        return _wire.iso_time(value, zone)

    # doneAt: "when the Infobip services finished processing the message"; sentAt
    # (when it was sent) is the next best.
    event_time, raw_time = _wire.event_time(
        ("doneAt", _wire.optional_text(report, "doneAt", warnings), iso),
        (("sentAt", _wire.optional_text(report, "sentAt", warnings), iso),), options, warnings,
    )
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=name.upper(),
        event_time=event_time,
        error_code=code,
        error_category=category,
        retryable=retryable,
        reference=_wire.optional_text(report, "callbackData", warnings),
        price=_price(report.get("price"), warnings),
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _status(options: Options, name: str, group: str) -> tuple[Status, bool]:
    """The deployment's mapping of the name, then the name's own entry, then
    its group's; a group outside Infobip's five is unknown."""
    mappings = options.mappings
    if mappings is not None and name.casefold() in mappings.statuses.get(NAME, {}):
        return _wire.status(options, NAME, STATUSES, name)
    found = STATUSES.get(name)
    if found is not None:
        return found
    try:
        return GROUPS[group]
    except KeyError:
        raise ReceiptError(f"unknown {NAME} status {name!r} in group {group!r}") from None


def _error(error: Any, options: Options, warnings: list[str]
           ) -> tuple[str | None, ErrorCategory | None, bool | None]:
    if error is None:
        return None, None, None
    if not isinstance(error, dict):
        warnings.append(f"error: not an object {_wire.quoted(error)}, ignored")
        return None, None, None
    code = _wire.optional_text(error, "id", warnings)
    if code is None or code == _NO_ERROR:
        return None, None, None
    code, category, retryable = _wire.error(options, NAME, ERRORS, code, warnings)
    permanent = error.get("permanent")
    if isinstance(permanent, bool):  # Infobip's own word on this report
        retryable = not permanent
    return code, category, retryable


def _price(price: Any, warnings: list[str]) -> str | None:
    if price is None:
        return None
    if not isinstance(price, dict):
        warnings.append(f"price: not an object {_wire.quoted(price)}, ignored")
        return None
    return _wire.optional_decimal(price, "pricePerMessage", warnings)
