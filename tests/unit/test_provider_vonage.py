"""Vonage SMS receipts, GET and JSON: every status and err-code, scts and its zone,
the time fallbacks, price and client-ref, errors, the sample file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, is_final_everywhere, micros
from streams.core.providers import Options
from streams.core.providers.vonage import parse as vonage

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "core" / "providers" / "vonage" / "samples.txt"
RECEIVED = micros(dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.UTC))
OPTS = Options(received_at=RECEIVED)
MID = "1A0000000F3C2B71"
MSISDN = "447700900123"


def fields(**changes: Any) -> dict[str, Any]:
    """A DLR as sms.yml's DeliveryReceipt describes it; None leaves a field out."""
    base: dict[str, Any] = {
        "msisdn": MSISDN, "to": "AcmeShop", "network-code": "23410", "messageId": MID,
        "price": "0.03330000", "status": "delivered", "scts": "2603120914", "err-code": "0",
        "api-key": "a1b2c3d4", "client-ref": "order-88412", "message-timestamp": "2026-03-12 09:14:11",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def get(**changes: Any) -> bytes:
    return urlencode(fields(**changes)).encode()


def post(**changes: Any) -> bytes:
    return json.dumps(fields(**changes)).encode()


def reason(payload: bytes, options: Options = OPTS) -> str:
    with pytest.raises(ReceiptError) as caught:
        vonage.parse(payload, options)
    return str(caught.value)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return micros(dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC))


# delivery-receipts.md "DLR status messages": (Status, final).
STATUSES = {
    "accepted": (Status.ACCEPTED, False),
    "buffered": (Status.QUEUED, False),
    "delivered": (Status.DELIVERED, True),
    "expired": (Status.EXPIRED, True),
    "failed": (Status.UNDELIVERED, True),
    "rejected": (Status.REJECTED, True),
    "unknown": (Status.UNKNOWN, True),
}
# delivery-receipts.md "DLR error codes" and the resolutions of a reseller's page "Understanding SMS
# delivery statuses": (category, retryable).
ERRORS = {
    "1": (ErrorCategory.GENERIC, False),  # Unknown
    "2": (ErrorCategory.UNREACHABLE, True),  # Absent Subscriber - Temporary
    "3": (ErrorCategory.UNREACHABLE, False),  # Absent Subscriber - Permanent
    "4": (ErrorCategory.BARRED, False),  # Call barred by user
    "5": (ErrorCategory.ROUTING, False),  # Portability Error
    "6": (ErrorCategory.CONTENT_REJECTED, False),  # Anti-Spam Rejection
    "7": (ErrorCategory.UNREACHABLE, True),  # Handset Busy: "Try again later"
    "8": (ErrorCategory.NETWORK, True),  # Network Error: "Try again later"
    "9": (ErrorCategory.INVALID_NUMBER, False),  # Illegal Number
    "10": (ErrorCategory.INVALID_MESSAGE, False),  # Invalid Message
    "11": (ErrorCategory.ROUTING, False),  # Unroutable
    "12": (ErrorCategory.UNREACHABLE, True),  # Destination Unreachable: "... / Try again later"
    "13": (ErrorCategory.CONTENT_REJECTED, False),  # Subscriber Age Restriction
    "14": (ErrorCategory.BARRED, False),  # Number Blocked by Carrier
    "15": (ErrorCategory.RECIPIENT_FUNDS, True),  # Prepaid - Insufficient funds: "Try again later"
    "16": (ErrorCategory.THROTTLED, True),  # Gateway Quota Exceeded
    "50": (ErrorCategory.SENDER_REJECTED, False),  # Entity Filter
    "51": (ErrorCategory.SENDER_REJECTED, False),  # Header Filter
    "52": (ErrorCategory.CONTENT_REJECTED, False),  # Content Filter
    "53": (ErrorCategory.BLACKLISTED, False),  # Consent Filter
    "54": (ErrorCategory.CONTENT_REJECTED, False),  # Regulation Error
    "99": (ErrorCategory.GENERIC, False),  # General Error: "Contact us"
}


def test_tables_are_exactly_the_documented_vocabularies() -> None:
    assert set(vonage.STATUSES) == set(STATUSES)
    assert set(vonage.ERRORS) == set(ERRORS)


def test_statuses_ranked_final_are_final() -> None:
    for status, final in vonage.STATUSES.values():
        assert final or not is_final_everywhere(status)


@pytest.mark.parametrize("form", [get, post])
@pytest.mark.parametrize("word", [*STATUSES, "DELIVERED", "Accepted"])
def test_every_status_in_both_forms(form: Any, word: str) -> None:
    r = vonage.parse(form(status=word), OPTS)
    assert (r.status, r.final, r.provider_status) == (*STATUSES[word.lower()], word.lower())
    assert (r.provider, r.message_id, r.reference, r.price) == ("vonage", MID, "order-88412", "0.03330000")


@pytest.mark.parametrize("form", [get, post])
@pytest.mark.parametrize("code", list(ERRORS))
def test_every_err_code_in_both_forms(form: Any, code: str) -> None:
    r = vonage.parse(form(status="failed", **{"err-code": code}), OPTS)
    assert (r.error_code, r.error_category, r.retryable) == (code, *ERRORS[code])


@pytest.mark.parametrize("err", ["0", "00", 0, None, ""])
def test_err_code_zero_or_none_is_no_error(err: object) -> None:
    r = vonage.parse(post(**{"err-code": err}), OPTS)
    assert (r.error_code, r.error_category, r.retryable) == (None, None, None)


def test_err_code_as_a_json_number_or_padded_is_the_same_code() -> None:
    assert vonage.parse(post(status="failed", **{"err-code": 2}), OPTS).error_code == "2"
    assert vonage.parse(get(status="failed", **{"err-code": "002"}), OPTS).error_code == "2"


def test_documented_example() -> None:
    # delivery-receipts.md "This is a typical DLR"; no client-ref in it.
    body = (b'{"err-code": "0", "message-timestamp": "2018-10-25 12:10:29", "messageId": "0B00000127FDBC63",'
            b' "msisdn": "447547232824", "network-code": "23410", "price": "0.03330000",'
            b' "scts": "1810251310", "status": "delivered", "to": "Nexmo CLI"}')
    assert vonage.parse(body, Options()) == Receipt(
        provider="vonage", message_id="0B00000127FDBC63", status=Status.DELIVERED, final=True,
        provider_status="delivered", event_time=utc(2018, 10, 25, 13, 10), price="0.03330000",
        raw_time="1810251310",
    )
    # scts is the UK carrier's local time (BST): read in Europe/London it lands
    # just before message-timestamp, the time Vonage began pushing the DLR.
    london = Options(zones={"vonage": ZoneInfo("Europe/London")})
    assert vonage.parse(body, london).event_time == utc(2018, 10, 25, 12, 10)


def test_scts_is_read_in_the_configured_zone_only() -> None:
    tallinn = ZoneInfo("Europe/Tallinn")
    r = vonage.parse(get(scts="2603121114"), Options(zones={"vonage": tallinn}))
    assert (r.event_time, r.raw_time) == (utc(2026, 3, 12, 9, 14), "2603121114")
    r = vonage.parse(get(scts="2603121114"), Options(zones={"messente": tallinn}))
    assert r.event_time == utc(2026, 3, 12, 11, 14)


def test_without_scts_message_timestamp_is_utc_whatever_the_zone() -> None:
    tallinn = Options(zones={"vonage": ZoneInfo("Europe/Tallinn")})
    r = vonage.parse(get(scts=None), tallinn)
    assert (r.event_time, r.raw_time) == (utc(2026, 3, 12, 9, 14, 11), "2026-03-12 09:14:11")


def test_then_the_signed_unix_timestamp_then_received_at() -> None:
    r = vonage.parse(post(scts=None, **{"message-timestamp": None, "timestamp": "1773306851"}), OPTS)
    assert (r.event_time, r.raw_time) == (utc(2026, 3, 12, 9, 14, 11), "1773306851")
    r = vonage.parse(post(scts=None, **{"message-timestamp": None}), OPTS)
    assert (r.event_time, r.raw_time) == (RECEIVED, None)
    assert reason(get(scts=None, **{"message-timestamp": None}), Options()) == (
        "no time in receipt and no received_at in options")


def test_price_and_reference_are_optional() -> None:
    r = vonage.parse(get(price=None, **{"client-ref": None}), OPTS)
    assert (r.price, r.reference) == (None, None)
    assert vonage.parse(post(price=0.0333), OPTS).price == "0.0333"


def test_no_phone_number_or_sender_is_kept() -> None:
    r = vonage.parse(post(), OPTS)
    assert MSISDN not in repr(r) and "AcmeShop" not in repr(r) and "a1b2c3d4" not in repr(r)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", "empty receipt"),
        (b"\n", "empty receipt"),
        (b"messageId=\xc3\x28", "not UTF-8 at byte 10"),
        (b'{"messageId": "1A00", "status": "delivered"', "invalid JSON"),
        (b'"delivered"', "not JSON, not a URL query, not SMPP receipt text"),
        (b"[1, 2]", "JSON receipt is a list, not an object"),
        (get(messageId=None), "missing field 'messageId'"),
        (post(messageId=" "), "missing field 'messageId'"),
        (post(messageId={"id": 1}), "field 'messageId' is a dict, expected text"),
        (get(status=None), "missing field 'status'"),
        (get(status="submitted"), "unknown vonage status 'submitted'"),
        (post(status="DELIVRD"), "unknown vonage status 'DELIVRD'"),
        (get(**{"err-code": "17"}), "unknown vonage error code '17'"),
        (post(**{"err-code": -1}), "unknown vonage error code '-1'"),
        (post(**{"err-code": 1.5}), "unknown vonage error code '1.5'"),
        (get(scts="18102513"), "invalid scts '18102513': expected YYMMDDHHMM"),
        (get(scts="261312091"), "invalid scts '261312091': expected YYMMDDHHMM"),
        (get(scts="2613120914"), "invalid time '2613120914'"),
        (get(scts="\uff12" * 10), "invalid scts"),
        (get(scts=None, **{"message-timestamp": "2026-03-12T09:14:11Z"}), "invalid time"),
        (post(scts=None, **{"message-timestamp": None, "timestamp": "soon"}), "invalid unix time 'soon'"),
        (get(price="0,0333"), "invalid vonage price '0,0333'"),
        (get(price="-0.03"), "invalid vonage price '-0.03'"),
        (b"messageId=1A00&status", "invalid query string"),
        (b"id:1A00 sub:001 dlvrd:001 submit date:2603120914 done date:2603120914 stat:DELIVRD err:000",
         "vonage sends no SMPP receipt text"),
    ],
)
def test_errors_say_why(payload: bytes, expected: str) -> None:
    assert reason(payload).startswith(expected)


# Hypothesis: whatever arrives, parse gives a Receipt or a ReceiptError, nothing else.
FIELDS = ["messageId", "status", "err-code", "scts", "message-timestamp", "timestamp", "price", "client-ref"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from([*STATUSES, *ERRORS, "2603120914", "2026-03-12 09:14:11", "0.0333"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def must_be_receipt_or_reason(payload: bytes, options: Options) -> None:
    try:
        assert isinstance(vonage.parse(payload, options), Receipt)
    except ReceiptError as exc:
        assert str(exc)


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    must_be_receipt_or_reason(payload, OPTS)


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS), values), st.booleans())
def test_arbitrary_json_objects(body: dict[str, Any], received: bool) -> None:
    must_be_receipt_or_reason(json.dumps(body).encode(), OPTS if received else Options())


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=20) | st.sampled_from([*STATUSES, *ERRORS])))
def test_arbitrary_queries(body: dict[str, str]) -> None:
    must_be_receipt_or_reason(urlencode(body).encode(), OPTS)


def test_sample_lines_all_parse_but_the_one_unknown_status() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    assert 10 <= len(lines) <= 14
    parsed: list[Receipt] = []
    failed: list[str] = []
    for line in lines:
        try:
            parsed.append(vonage.parse(line, OPTS))
        except ReceiptError as exc:
            failed.append(str(exc))
    assert failed == ["unknown vonage status 'submitted'"]
    # What the sample is for: both forms, a duplicate, a failure with a code,
    # and a final that arrives before a transient of the same message.
    assert any(line.startswith(b"{") for line in lines) and any(b"&messageId=" in line for line in lines)
    assert len(set(lines)) == len(lines) - 1
    assert any(r.error_code and r.error_category for r in parsed)
    assert any(
        a.message_key == b.message_key and a.final and not b.final
        for i, a in enumerate(parsed) for b in parsed[i + 1:]
    )
