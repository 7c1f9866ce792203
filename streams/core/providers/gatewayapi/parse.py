"""GatewayAPI delivery status notifications, in each form GatewayAPI sends them:

- REST webhook JSON (docs/rest.rst, "HTTP Callback"):
  {"id":1000001,"msisdn":4587654321,"time":1450000000,"status":"DELIVERED",
   "error":null,"code":null,"userref":"foobar","charge_status":"CAPTURED",...}
- the 2025 messaging webhook envelope (GatewayAPI's OpenAPI spec, as vendored in
  nickdnk/gatewayapi-php openapi.json, schemas PhoneMessageWebhookEvent/SMSStatus):
  {"event_id":..,"timestamp":..,"event_type":"message.status.sms",
   "event":{"msg_id":..,"recipient":..,"reference":..,"status":..,"status_at":..,
            "error":{"hex_code":"0x1905","details":"Unsupported sender"}|null}}
- SMPP receipt text (docs/smpp.rst, "Delivery reports"), read with smpp.fields().

Docs: github.com/onlinecity/gatewayapi-docs (docs/rest.rst, docs/smpp.rst,
docs/errors.rst, commit da52fb9 of 2021-05-05).
"""

from __future__ import annotations

import re
from typing import Any

from streams.core.model import ChargeStatus, ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options
from streams.core.providers.smpp import parse as smpp

NAME = "gatewayapi"

# status -> (canonical status, final). Source: GatewayAPI's page "SMS Delivery States" and
# docs/rest.rst "States and status codes"; "final" is GatewayAPI's own column.
STATUSES: dict[str, tuple[Status, bool]] = {
    # "Initial value before processing begins, waiting for actual status": a
    # placeholder, not SMPP's final UNKNOWN.
    "UNKNOWN": (Status.PENDING, False),
    "SCHEDULED": (Status.SCHEDULED, False),
    "BUFFERED": (Status.QUEUED, False),
    "ENROUTE": (Status.SENT, False),
    "DELIVERED": (Status.DELIVERED, True),
    "EXPIRED": (Status.EXPIRED, True),
    "DELETED": (Status.CANCELLED, True),  # "Message was canceled."
    "UNDELIVERABLE": (Status.UNDELIVERED, True),
    "ACCEPTED": (Status.ACCEPTED, True),  # final at GatewayAPI ("SMS Delivery States")
    "REJECTED": (Status.REJECTED, True),
    "SKIPPED": (Status.SKIPPED, True),
}

# SMPP stat word -> the GatewayAPI status it reports. Source: docs/smpp.rst lists
# exactly these seven; any other word is looked up as it is, in the deployment's
# mappings and then in STATUSES, rather than read as generic SMPP.
SMPP_STATES: dict[str, str] = {
    "ENROUTE": "ENROUTE",
    "DELIVRD": "DELIVERED",
    "EXPIRED": "EXPIRED",
    "UNDELIV": "UNDELIVERABLE",
    "ACCEPTD": "ACCEPTED",
    "UNKNOWN": "UNKNOWN",
    "REJECTD": "REJECTED",
}

# Source: docs/rest.rst "Charge status" and "SMS Delivery States".
CHARGES: dict[str, ChargeStatus] = {
    "NOCHARGE": ChargeStatus.NOCHARGE,
    "AUTHORIZED": ChargeStatus.AUTHORIZED,
    "CANCELLED": ChargeStatus.CANCELLED,
    "CAPTURED": ChargeStatus.CAPTURED,
    "FAILED": ChargeStatus.FAILED,
    "REFUNDED": ChargeStatus.REFUNDED,
    "REFUND_FAIL": ChargeStatus.REFUND_FAIL,  # a notification; the charge stays CAPTURED
}

_C = ErrorCategory
# Error code (canonical form "0x" + 4 upper-case hex digits, as the docs write
# them) -> (category, retryable; None = the category's default).
# Source: docs/errors.rst "SMS Errors" (the codes found in DSNs), its "General
# error codes" (00-09 mean the same in every origin; 0x1000 is success, handled
# as no error), and 0x1905 from the OpenAPI spec's webhook example. Each
# comment is the documented description.
ERRORS: dict[str, tuple[ErrorCategory, bool | None]] = {
    "0x1001": (_C.GENERIC, None),  # Unspecified delivery error (general: Unknown error)
    "0x1002": (_C.GENERIC, None),  # Generic NACK
    "0x1003": (_C.GENERIC, None),  # Operation not permitted
    "0x1004": (_C.NETWORK, None),  # Input/output error
    "0x1005": (_C.NETWORK, None),  # Shutting down
    "0x1006": (_C.NETWORK, None),  # Insufficient Resources
    "0x1007": (_C.GENERIC, None),  # Permission denied
    "0x1008": (_C.INVALID_MESSAGE, None),  # Invalid Argument
    "0x1009": (_C.NETWORK, None),  # Resource temporarily unavailable (EAGAIN)
    # HLR
    "0x1010": (_C.INVALID_NUMBER, None),  # Unknown subscriber
    "0x1011": (_C.BARRED, None),  # Call barred
    "0x1012": (_C.BARRED, None),  # Teleservice not provisioned (no SMS subscription)
    "0x1013": (_C.UNREACHABLE, None),  # Absent subscriber
    "0x1014": (_C.ROUTING, None),  # Facility not supported
    "0x1015": (_C.NETWORK, None),  # HLR System failure
    "0x1016": (_C.GENERIC, None),  # Unexpected data value
    "0x1017": (_C.GENERIC, None),  # HLR Data missing
    "0x1018": (_C.UNREACHABLE, None),  # Memory capacity exceeded (handset full)
    "0x1019": (_C.UNREACHABLE, None),  # Mobile subscriber not reachable
    "0x101A": (_C.NETWORK, None),  # VLR System failure
    "0x101B": (_C.NETWORK, None),  # HLR Internal Error
    # MSC
    "0x1020": (_C.UNREACHABLE, None),  # Unidentified subscriber (not in the VLR now)
    "0x1021": (_C.UNREACHABLE, None),  # Absent subscriber, IMSI detached
    "0x1022": (_C.UNREACHABLE, None),  # Absent subscriber, no page response
    "0x1023": (_C.UNREACHABLE, None),  # Subscriber busy for MT SMS
    "0x1024": (_C.ROUTING, None),  # Facility not supported
    "0x1025": (_C.INVALID_NUMBER, None),  # Illegal subscriber (failed authentication)
    "0x1026": (_C.BARRED, None),  # Illegal equipment (handset blocked)
    "0x1027": (_C.NETWORK, None),  # System failure
    "0x1028": (_C.GENERIC, None),  # Unexpected data value
    "0x1029": (_C.GENERIC, None),  # Data missing
    "0x102A": (_C.UNREACHABLE, None),  # Memory capacity exceeded (handset full)
    "0x102B": (_C.GENERIC, None),  # Equipment protocol error
    "0x102C": (_C.INVALID_NUMBER, None),  # Equipment not short message equipped
    "0x102D": (_C.GENERIC, None),  # Illegal error
    "0x102E": (_C.NETWORK, None),  # MSC Internal Error
    # SCREEN
    "0x1030": (_C.BARRED, None),  # Screening block
    "0x1031": (_C.BARRED, None),  # Terminating IMSI blocked
    "0x1032": (_C.SENDER_REJECTED, None),  # Originating location mismatch
    "0x1033": (_C.SENDER_REJECTED, None),  # Error, originator blocked
    "0x1034": (_C.BARRED, None),  # Error, destination blocked
    "0x1035": (_C.CONTENT_REJECTED, None),  # Error, keyword blocked
    "0x1036": (_C.ROUTING, None),  # Error, SC address blocked
    "0x1037": (_C.THROTTLED, None),  # Error, blocked due to exceeded quota
    "0x1038": (_C.ROUTING, None),  # Error, loop detected
    "0x1039": (_C.INVALID_MESSAGE, None),  # Error, data coding scheme blocked
    "0x103A": (_C.INVALID_MESSAGE, None),  # Error, information element identifier blocked
    "0x103B": (_C.BARRED, None),  # Error, personal service barring, MO
    "0x103C": (_C.BARRED, None),  # Error, personal service barring, MT
    # SMSC
    "0x1040": (_C.UNREACHABLE, None),  # Unidentified Subscriber
    "0x1041": (_C.ROUTING, None),  # Facility not supported
    "0x1042": (_C.NETWORK, None),  # System failure
    "0x1043": (_C.GENERIC, None),  # Unexpected data value
    "0x1044": (_C.GENERIC, None),  # Data missing
    "0x1045": (_C.GENERIC, None),  # Equipment protocol error
    "0x1046": (_C.ROUTING, None),  # Unknown service centre address
    "0x1047": (_C.NETWORK, None),  # Service centre congestion
    "0x1048": (_C.INVALID_NUMBER, None),  # Invalid short message entity address
    "0x1049": (_C.ROUTING, None),  # Subscriber not service centre subscriber
    "0x104A": (_C.NETWORK, None),  # SMSC Internal Error
    # ROUTE
    "0x1050": (_C.ROUTING, True),  # Internal routing error (internal: transient)
    "0x1051": (_C.ROUTING, None),  # Unsupported number plan
    "0x1052": (_C.ROUTING, None),  # Unsupported type of number
    "0x1053": (_C.ROUTING, None),  # Message not deliver
    "0x1054": (_C.ROUTING, None),  # Dialling zone not found
    "0x1055": (_C.ROUTING, None),  # Not home zone and IMSI not allowed
    "0x1056": (_C.ROUTING, None),  # Not home zone and IMSI fetch failed
    "0x1057": (_C.ROUTING, None),  # Destination network type unknown
    # ESME (SMPP command_status errors passed on)
    "0x1060": (_C.INVALID_NUMBER, None),  # Invalid destination address
    "0x1061": (_C.INVALID_NUMBER, None),  # Invalid destination numbering plan
    "0x1062": (_C.INVALID_NUMBER, None),  # Invalid destination type of number
    "0x1063": (_C.INVALID_MESSAGE, None),  # Invalid destination flag
    "0x1064": (_C.INVALID_MESSAGE, None),  # Invalid number of destinations
    "0x1065": (_C.SENDER_REJECTED, None),  # Invalid source address
    "0x1066": (_C.SENDER_REJECTED, None),  # Invalid source numbering plan
    "0x1067": (_C.SENDER_REJECTED, None),  # Invalid source type of number
    "0x1068": (_C.GENERIC, None),  # ESME Receiver permanent error
    "0x1069": (_C.GENERIC, None),  # ESME Receiver reject error
    "0x106A": (_C.NETWORK, None),  # ESME Receiver temporary error
    "0x106B": (_C.INVALID_MESSAGE, None),  # Invalid command length
    "0x106C": (_C.INVALID_MESSAGE, None),  # Invalid service type
    "0x106D": (_C.INVALID_MESSAGE, None),  # Invalid operation
    "0x106E": (_C.GENERIC, None),  # Operation not allowed
    "0x106F": (_C.INVALID_MESSAGE, None),  # Invalid parameter
    "0x1070": (_C.INVALID_MESSAGE, None),  # Parameter not allowed
    "0x1071": (_C.INVALID_MESSAGE, None),  # Invalid parameter length
    "0x1072": (_C.INVALID_MESSAGE, None),  # Invalid optional parameter
    "0x1073": (_C.INVALID_MESSAGE, None),  # Optional parameter missing
    "0x1074": (_C.INVALID_MESSAGE, None),  # Invalid validity parameter
    "0x1075": (_C.INVALID_MESSAGE, None),  # Invalid scheduled delivery parameter
    "0x1076": (_C.INVALID_MESSAGE, None),  # Invalid distribution list
    "0x1077": (_C.INVALID_MESSAGE, None),  # Invalid message class
    "0x1078": (_C.INVALID_MESSAGE, None),  # Invalid message length
    "0x1079": (_C.INVALID_MESSAGE, None),  # Invalid message reference
    "0x107A": (_C.INVALID_MESSAGE, None),  # Invalid number of messages
    "0x107B": (_C.INVALID_MESSAGE, None),  # Invalid predefined message
    "0x107C": (_C.INVALID_MESSAGE, None),  # Invalid priority
    "0x107D": (_C.INVALID_MESSAGE, None),  # Invalid replace flag
    "0x107E": (_C.GENERIC, None),  # Request failed
    "0x107F": (_C.INVALID_MESSAGE, None),  # Invalid delivery report request
    "0x1080": (_C.THROTTLED, None),  # Message queue full
    # 0x1081 and 0x1082 are each listed more than once with different
    # descriptions; GENERIC is the one category true of all of them.
    "0x1081": (_C.GENERIC, None),  # External error / IMSI lookup blocked
    "0x1082": (_C.GENERIC, None),  # Cannot find information / ESME error / ESME Internal error
    "0x1083": (_C.GENERIC, None),  # ESME Unknown external error
    "0x1084": (_C.INVALID_NUMBER, None),  # Invalid Mobile Subscriber
    "0x1085": (_C.INVALID_MESSAGE, None),  # Short message exceeds maximum
    "0x1086": (_C.INVALID_MESSAGE, None),  # Unable to Unpack GSM message
    "0x1087": (_C.INVALID_MESSAGE, None),  # Unable to convert IRA Alphabet
    # SP
    "0x1090": (_C.NETWORK, None),  # Internal error
    "0x1091": (_C.NETWORK, None),  # Network time-out
    "0x1092": (_C.RECIPIENT_FUNDS, None),  # Operation barred - insufficient funds
    "0x1093": (_C.BARRED, None),  # Illegal mobile subscriber - blocked
    "0x1094": (_C.GENERIC, None),  # Refunded by network operator
    # GWAPI
    "0x1902": (_C.GENERIC, None),  # Messageclass not configured (account setup)
    "0x1903": (_C.CONTENT_REJECTED, None),  # Link not whitelisted
    "0x1904": (_C.CONTENT_REJECTED, None),  # Message filtered by content
    "0x1905": (_C.SENDER_REJECTED, None),  # Unsupported sender (OpenAPI example only)
}

_SUCCESS = 0x1000  # general code 00 in the SMS origin: "Success (no error)"
_HEX_CODE = re.compile(r"0[xX]([0-9a-fA-F]{1,4})")
_SMPP_ERR = re.compile(r"[0-9]{1,4}")


def parse(payload: bytes, options: Options) -> Receipt:
    body = _wire.text(payload)
    kind = _wire.detect(body)
    if kind == "smpp":
        return _smpp(body, options)
    if kind == "query":
        raise ReceiptError("gatewayapi sends JSON or SMPP receipt text, not a URL query")
    fields = _wire.json_object(body)
    if "event_type" in fields:
        return _envelope(fields, options)
    return _rest(fields, options)


def _rest(fields: dict[str, Any], options: Options) -> Receipt:
    warnings: list[str] = []
    time_text = _wire.optional_text(fields, "time", warnings)
    event_time, raw_time = _wire.event_time(("time", time_text, _wire.unix_seconds), (), options, warnings)
    charge = _wire.field_text(fields, "charge_status", required=False)
    return _receipt(
        options,
        warnings,
        message_id=_required(fields, "id"),
        state=_required(fields, "status").upper(),
        event_time=event_time,
        raw_time=raw_time,
        code=_hex_code(_wire.optional_text(fields, "code", warnings), warnings),
        reference=_wire.optional_text(fields, "userref", warnings),
        charge_status=None if charge is None else _charge(charge),
    )


def _envelope(fields: dict[str, Any], options: Options) -> Receipt:
    kind = _wire.field_text(fields, "event_type")
    if kind != "message.status.sms":  # message.status.rcs and others are not SMS receipts
        raise ReceiptError(f"unsupported gatewayapi event_type {kind!r}")
    event = _object(fields, "event")
    warnings: list[str] = []
    zone = options.zone(NAME)

    def iso(value: str) -> int:
        return _wire.iso_time(value, zone)

    # status_at is when the message reached its status; the envelope's
    # timestamp, when GatewayAPI sent the event, is the next best.
    event_time, raw_time = _wire.event_time(
        ("status_at", _wire.optional_text(event, "status_at", warnings), iso),
        (("timestamp", _wire.optional_text(fields, "timestamp", warnings), iso),), options, warnings,
    )
    error = event.get("error")
    if error is not None and not isinstance(error, dict):
        warnings.append(f"error: not an object {_wire.quoted(error)}, ignored")
        error = None
    return _receipt(
        options,
        warnings,
        message_id=_required(event, "msg_id"),
        state=_required(event, "status").upper(),
        event_time=event_time,
        raw_time=raw_time,
        code=None if error is None else _hex_code(_wire.optional_text(error, "hex_code", warnings), warnings),
        reference=_wire.optional_text(event, "reference", warnings),
    )


def _smpp(body: str, options: Options) -> Receipt:
    warnings: list[str] = []
    found = smpp.fields(body, warnings)
    word = found["stat"].upper()
    state = SMPP_STATES.get(word, word)
    event_time, raw_time = smpp.event_time(found, options, NAME, warnings)
    # docs/smpp.rst: err is the base-10 value of the code's last three hex
    # digits (0x107E -> 126, err:019 -> 0x1013); add 0x1000 to convert back.
    # Four digits are accepted: the GWAPI codes 0x19xx need them.
    err = found.get("err")
    code = None
    if err is not None:
        if _SMPP_ERR.fullmatch(err) and int(err) < 0x1000:
            code = _SUCCESS + int(err)
        else:
            warnings.append(f"err: not decimal 000-4095 {_wire.quoted(err)}, ignored")
    return _receipt(
        options,
        warnings,
        message_id=found["id"],  # GatewayAPI's decimal message id, as given
        state=state,
        provider_status=word,
        event_time=event_time,
        raw_time=raw_time,
        code=code,
        # docs/smpp.rst: text is the first 20 characters of user_message_reference.
        reference=found.get("text") or None,
    )


def _receipt(
    options: Options,
    warnings: list[str],
    *,
    message_id: str,
    state: str,
    event_time: int,
    raw_time: str | None,
    code: int | None,
    reference: str | None,
    provider_status: str | None = None,
    charge_status: ChargeStatus | None = None,
) -> Receipt:
    status, final = _wire.status(options, NAME, STATUSES, state)
    hex_code = None if code is None or code == _SUCCESS else f"0x{code:04X}"
    error_code, category, retryable = _wire.error(options, NAME, ERRORS, hex_code, warnings)
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=provider_status or state,
        event_time=event_time,
        error_code=error_code,
        error_category=category,
        retryable=retryable,
        charge_status=charge_status,
        reference=reference,
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _hex_code(text: str | None, warnings: list[str]) -> int | None:
    """A hex error code as GatewayAPI writes it ("0x1013", any case); anything
    else (a bare number could be hex or decimal) is not guessed: noted and left out."""
    if text is None:
        return None
    match = _HEX_CODE.fullmatch(text)
    if match is None:
        warnings.append(f"code: not hex like 0x1013 {_wire.quoted(text)}, ignored")
        return None
    return int(match.group(1), 16)


def _charge(word: str) -> ChargeStatus:
    try:
        return CHARGES[word.upper()]
    except KeyError:
        raise ReceiptError(f"unknown gatewayapi charge_status {word!r}") from None


def _required(fields: dict[str, Any], name: str) -> str:
    value = _wire.field_text(fields, name)
    if value is None:  # field_text already raises; this narrows the type for mypy
        raise ReceiptError(f"missing field {name!r}")
    return value


def _object(fields: dict[str, Any], name: str) -> dict[str, Any]:
    value = fields.get(name)
    if not isinstance(value, dict):
        raise ReceiptError(f"field {name!r} is not an object")
    return value
