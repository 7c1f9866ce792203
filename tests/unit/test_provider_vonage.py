"""Vonage SMS API receipts, GET and JSON: every status and err-code, scts and its zone,
the time fallbacks and what is tolerated (each named in warnings), price and client-ref,
what is still a dead letter, the deployment's overrides, the sample file. The Messages
API's status webhooks are in test_provider_vonage_messages.py."""

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

from streams.core.mappings import Mappings
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
    assert r.warnings == ("scts: missing; event time from timestamp",)
    r = vonage.parse(post(scts=None, **{"message-timestamp": None}), OPTS)
    assert (r.event_time, r.raw_time) == (RECEIVED, None)
    assert r.warnings == ("scts: missing; event time from the received time",)
    assert reason(get(scts=None, **{"message-timestamp": None}), Options()) == (
        "scts missing, and no received time to fall back on")


def test_scts_that_reads_fine_is_all_that_is_read() -> None:
    # The fast path: the fallbacks are not even looked at (no warning about them).
    r = vonage.parse(get(**{"message-timestamp": "garbage", "timestamp": "soon"}), OPTS)
    assert (r.event_time, r.raw_time, r.warnings) == (utc(2026, 3, 12, 9, 14), "2603120914", ())


@pytest.mark.parametrize(
    ("scts", "quoted"),
    [("18102513", "'18102513'"), ("261312091", "'261312091'"), ("2613120914", "'2613120914'"),
     ("\uff12" * 10, repr("\uff12" * 10)), ("2603120914Z", "'2603120914Z'")],
)
def test_an_unreadable_scts_falls_back_to_message_timestamp(scts: str, quoted: str) -> None:
    # The case: scts is not a date, message-timestamp is. The id and status are
    # clear, so the receipt stands, with message-timestamp's time and a note of why.
    r = vonage.parse(get(scts=scts), OPTS)
    assert (r.status, r.event_time, r.raw_time) == (
        Status.DELIVERED, utc(2026, 3, 12, 9, 14, 11), "2026-03-12 09:14:11")
    assert r.warnings == (f"scts: unreadable {quoted}; event time from message-timestamp",)


def test_each_unreadable_time_is_noted_on_the_way_down() -> None:
    r = vonage.parse(post(scts={"when": 1}, **{"message-timestamp": "2026-03-12T09:14:11Z", "timestamp": "soon"}), OPTS)
    assert (r.event_time, r.raw_time) == (RECEIVED, None)
    assert r.warnings == (
        "scts: not text {'when': 1}, ignored",
        "message-timestamp: unreadable '2026-03-12T09:14:11Z', ignored",
        "timestamp: unreadable 'soon', ignored",
        "scts: missing; event time from the received time",
    )


def test_price_and_reference_are_optional() -> None:
    r = vonage.parse(get(price=None, **{"client-ref": None}), OPTS)
    assert (r.price, r.reference, r.warnings) == (None, None, ())
    assert vonage.parse(post(price=0.0333), OPTS).price == "0.0333"


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"price": "0,0333"}, "price: not a decimal '0,0333', ignored"),
        ({"price": "-0.03"}, "price: not a decimal '-0.03', ignored"),
        ({"price": {"EUR": "0.0333"}}, "price: not text {'EUR': '0.0333'}, ignored"),
        ({"price": True}, "price: not text True, ignored"),
    ],
)
def test_an_unreadable_price_is_null_and_noted(changes: dict[str, Any], warning: str) -> None:
    r = vonage.parse(post(**changes), OPTS)
    assert (r.status, r.message_id, r.price, r.warnings) == (Status.DELIVERED, MID, None, (warning,))


def test_an_unreadable_reference_is_null_and_noted() -> None:
    r = vonage.parse(post(**{"client-ref": ["order-88412"]}), OPTS)
    assert (r.reference, r.warnings) == (None, ("client-ref: not text ['order-88412'], ignored",))


@pytest.mark.parametrize(
    ("err", "code", "warning"),
    [
        ("17", "17", "err-code: unknown '17', kept without a category"),
        (-1, "-1", "err-code: unknown '-1', kept without a category"),
        (1.5, "1.5", "err-code: unknown '1.5', kept without a category"),
        ({"code": 2}, None, "err-code: not text {'code': 2}, ignored"),
    ],
)
def test_an_unknown_or_unreadable_err_code_does_not_sink_the_receipt(err: object, code: str | None,
                                                                     warning: str) -> None:
    r = vonage.parse(post(status="failed", **{"err-code": err}), OPTS)
    assert (r.status, r.final, r.error_code, r.error_category, r.retryable) == (
        Status.UNDELIVERED, True, code, None, None)
    assert r.warnings == (warning,)


def test_no_err_code_changes_what_the_word_says() -> None:
    # Expiry is its own word on the SMS API; err-code 1 "Unknown" is a failure of unknown
    # cause ("Message was not delivered and no cause could be determined"), not an unknown outcome.
    for word, status in (("failed", Status.UNDELIVERED), ("rejected", Status.REJECTED)):
        for code in ERRORS:
            assert vonage.parse(get(status=word, **{"err-code": code}), OPTS).status is status
    assert vonage.parse(get(status="expired", **{"err-code": "1"}), OPTS).status is Status.EXPIRED


def test_the_deployments_mappings_come_first() -> None:
    mappings = Mappings(statuses={"vonage": {"enroute": (Status.SENT, False), "failed": (Status.EXPIRED, True)}},
                        errors={"vonage": {"17": (ErrorCategory.NETWORK, None), "2": (ErrorCategory.GENERIC, False)}})
    options = Options(received_at=RECEIVED, mappings=mappings)
    r = vonage.parse(get(status="ENROUTE"), options)
    assert (r.status, r.final, r.provider_status) == (Status.SENT, False, "enroute")
    r = vonage.parse(get(status="failed", **{"err-code": "17"}), options)
    assert (r.status, r.error_code, r.error_category, r.retryable, r.warnings) == (
        Status.EXPIRED, "17", ErrorCategory.NETWORK, True, ())
    assert vonage.parse(get(status="failed", **{"err-code": "2"}), options).error_category is ErrorCategory.GENERIC
    assert reason(get(status="enroute")) == "unknown vonage status 'enroute'"  # without them


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
        (post(message_uuid="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"),
         "both messageId (SMS API) and message_uuid (Messages API): which message is it?"),
        (get(status=None), "missing field 'status'"),
        (post(status=["delivered"]), "field 'status' is a list, expected text"),
        # The Messages API's word: an SMS API receipt never carries it.
        (get(status="submitted"), "unknown vonage status 'submitted'"),
        (post(status="DELIVRD"), "unknown vonage status 'DELIVRD'"),
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
@given(st.dictionaries(st.sampled_from(FIELDS[2:]), values), st.sampled_from(list(STATUSES)), st.booleans())
def test_a_clear_id_and_status_is_never_sunk_by_the_rest(rest: dict[str, Any], word: str, as_query: bool) -> None:
    body = {**rest, "messageId": MID, "status": word}
    if as_query:
        body = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    r = vonage.parse(urlencode(body).encode() if as_query else json.dumps(body).encode(), OPTS)
    assert (r.message_id, r.status, r.provider_status) == (MID, STATUSES[word][0], word)
    assert all(w.split(":", 1)[0] in FIELDS for w in r.warnings)


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
    # The bad line: an SMPP stat word (ENROUTE) that Vonage's SMS API never sends. Not
    # "submitted", a real status of the Messages API's.
    assert failed == ["unknown vonage status 'enroute'"]
    # What the sample is for: both forms, a duplicate, a failure with a code,
    # and a final that arrives before a transient of the same message.
    assert any(line.startswith(b"{") for line in lines) and any(b"&messageId=" in line for line in lines)
    assert len(set(lines)) == len(lines) - 1
    assert any(r.error_code and r.error_category for r in parsed)
    assert any(
        a.message_key == b.message_key and a.final and not b.final
        for i, a in enumerate(parsed) for b in parsed[i + 1:]
    )
