"""Messente receipts: the legacy GET (stat / status / dlr-mask / err) and the
Omnichannel JSON POST; support article 137 ("Delivery Reports"), times, prices, errors, the sample file."""

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
from streams.core.providers.messente import parse as messente

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "core" / "providers" / "messente" / "samples.txt"
RECEIVED = micros(dt.datetime(2026, 3, 12, 9, 20, tzinfo=dt.UTC))
OPTS = Options(received_at=RECEIVED)
MID = "5b0e6c1f-8d2a-4c3e-9f41-2a7d6b9e0c13"
SMS_ID = "a7c03e9f1b2d4e6f8a0b1c2d3e4f5a6b"
PHONE = "+37255500101"
DROP = object()  # a field left out of the receipt


def omni(**fields: Any) -> bytes:
    """An Omnichannel DLR POST body, shaped as Messente's documented example."""
    base: dict[str, Any] = {
        "status": "DELIVRD", "sender": "ShopAlert", "err": 0, "message_id": MID, "to": PHONE,
        "channel": "sms", "error": None, "omnimessage_id": "c41f7e2a-0b9d-4e58-a6c3-71d2e8f90b4a",
        "timestamp": "2026-03-12T09:14:07.880312",
        "price_info": {"part_price": "0.1", "parts_count": 2, "total_price": "0.2"},
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not DROP}).encode()


def get(**fields: str | None) -> bytes:
    """A legacy dlr-url GET query string; None leaves a field out."""
    base: dict[str, str | None] = {"sms_unique_id": SMS_ID, "stat": "DELIVRD", "err": "000"}
    base.update(fields)
    return urlencode({k: v for k, v in base.items() if v is not None}).encode()


def parse(payload: bytes, options: Options = OPTS) -> Receipt:
    return messente.parse(payload, options)


def reason(payload: bytes, options: Options = OPTS) -> str:
    with pytest.raises(ReceiptError) as caught:
        messente.parse(payload, options)
    return str(caught.value)


# Article 137's stat words plus the Omnichannel enum's ACK and SEEN: (Status, final).
STAT = {
    "ACK": (Status.SENT, False),
    "ACCEPTD": (Status.ACCEPTED, False),  # "accepted for delivery": not final
    "DELIVRD": (Status.DELIVERED, True),
    "SEEN": (Status.DELIVERED, True),
    "UNDELIV": (Status.UNDELIVERED, True),
    "FAILED": (Status.UNDELIVERED, True),
    "UNKNOWN": (Status.UNKNOWN, True),
    "REJECTD": (Status.REJECTED, True),
    "NACK": (Status.REJECTED, True),
    "DELETED": (Status.CANCELLED, True),
    "EXPIRED": (Status.EXPIRED, True),
}
# Article 137's general `status` and the `dlr-mask` numbers.
GENERAL = {"DELIVERED": (Status.DELIVERED, True), "FAILED": (Status.UNDELIVERED, True),
           "SENT": (Status.SENT, False)}
MASK = {"1": GENERAL["DELIVERED"], "2": GENERAL["FAILED"], "16": GENERAL["FAILED"],
        "4": GENERAL["SENT"], "8": GENERAL["SENT"]}
# Article 137 / ErrorCodeOmnichannelMachine: code -> (category, retryable).
ERRORS = {
    "1": (ErrorCategory.GENERIC, False),
    "2": (ErrorCategory.EXPIRED, True),
    "3": (ErrorCategory.INVALID_NUMBER, False),
    "4": (ErrorCategory.ACCOUNT_FUNDS, True),
    "5": (ErrorCategory.INVALID_NUMBER, False),
    "6": (ErrorCategory.THROTTLED, True),  # "blocked for 60 minutes"
    "7": (ErrorCategory.SENDER_REJECTED, False),
    "8": (ErrorCategory.BLACKLISTED, False),
    "9": (ErrorCategory.ROUTING, False),
    "999": (ErrorCategory.GENERIC, True),  # "General temporary error"
}


def test_tables_are_exactly_the_documented_vocabularies() -> None:
    assert set(messente.STAT) == set(STAT)
    assert set(messente.GENERAL_STATUS) == set(GENERAL)
    assert set(messente.DLR_MASK) == set(MASK)
    assert set(messente.ERRORS) == set(ERRORS)
    assert set(messente.NO_ERROR) == {"0", "10"}


def test_statuses_ranked_final_are_final() -> None:
    for table in (messente.STAT, messente.GENERAL_STATUS, messente.DLR_MASK):
        for status, final in table.values():
            assert final or not is_final_everywhere(status)


@pytest.mark.parametrize("word", [*STAT, "delivrd", "Acceptd"])
def test_every_stat_word_in_the_legacy_get(word: str) -> None:
    r = parse(get(stat=word, status="SENT", **{"dlr-mask": "8"}))
    assert (r.status, r.final) == STAT[word.upper()]
    assert r.provider_status == word.upper()
    assert (r.provider, r.message_id, r.reference, r.price) == ("messente", SMS_ID, None, None)


@pytest.mark.parametrize("word", list(STAT))
def test_every_status_word_in_the_omnichannel_json(word: str) -> None:
    r = parse(omni(status=word))
    assert (r.status, r.final, r.provider_status) == (*STAT[word], word)
    assert (r.provider, r.message_id) == ("messente", MID)


@pytest.mark.parametrize("word", list(GENERAL))
def test_general_status_when_there_is_no_stat(word: str) -> None:
    r = parse(get(stat=None, status=word, **{"dlr-mask": "1"}))
    assert (r.status, r.final, r.provider_status) == (*GENERAL[word], word)


@pytest.mark.parametrize("mask", list(MASK))
def test_dlr_mask_when_there_is_neither_stat_nor_status(mask: str) -> None:
    r = parse(get(stat=None, **{"dlr-mask": mask}))
    assert (r.status, r.final, r.provider_status) == (*MASK[mask], f"dlr-mask={mask}")


def test_stat_is_read_before_status_and_status_before_mask() -> None:
    assert parse(get(stat="ACCEPTD", status="DELIVERED", **{"dlr-mask": "1"})).status is Status.ACCEPTED
    assert parse(get(stat="", status="FAILED", **{"dlr-mask": "1"})).status is Status.UNDELIVERED


@pytest.mark.parametrize("code", list(ERRORS))
def test_every_error_code_padded_in_the_get_and_bare_in_the_json(code: str) -> None:
    legacy = parse(get(stat="UNDELIV", err=code.zfill(3)))
    omnichannel = parse(omni(status="UNDELIV", err=int(code)))
    for r in (legacy, omnichannel):
        assert (r.error_code, r.error_category, r.retryable) == (code, *ERRORS[code])
    assert parse(get(stat="UNDELIV", err=code)).error_code == code


@pytest.mark.parametrize("err", ["000", "0", "", "010", "10", None])
def test_no_error_and_seen_are_no_error_in_the_get(err: str | None) -> None:
    r = parse(get(err=err))
    assert (r.error_code, r.error_category, r.retryable) == (None, None, None)


@pytest.mark.parametrize("err", [0, "0", 10, None, DROP])
def test_no_error_and_seen_are_no_error_in_the_json(err: object) -> None:
    r = parse(omni(status="SEEN", err=err))
    assert (r.error_code, r.error_category, r.retryable) == (None, None, None)


def test_documented_legacy_example_with_its_url_and_empty_err() -> None:
    # messente.com/documentation/sms-messaging/delivery-report
    r = parse(b"https://myservice.com/dlr/messente/239d8/?sms_unique_id=sms123&stat=DELIVRD&err=")
    assert (r.message_id, r.status, r.final, r.error_code) == ("sms123", Status.DELIVERED, True, None)
    assert (r.event_time, r.raw_time) == (RECEIVED, None)


def test_documented_omnichannel_example() -> None:
    # support.messente.com/delivery-report-webhooking, plus a price_info as messente-api-python
    # docs/PriceInfo.md describes it
    body = (b'{"status":"DELIVRD","sender":"MySender","err":0,"message_id":"fr593ce7-68de-5e44-bc50-'
            b'044a3ad0a7fa","to":"+3725555555","channel":"sms","error":null,"omnimessage_id":"632c6f3d-'
            b'49d0-4a8f-5k2n-74023d31e51d","timestamp":"2020-02-04T08:09:42.389630",'
            b'"price_info":{"part_price":"0.1","parts_count":2,"total_price":"0.2"}}')
    r = parse(body, Options())
    assert r == Receipt(
        provider="messente", message_id="fr593ce7-68de-5e44-bc50-044a3ad0a7fa",
        status=Status.DELIVERED, final=True, provider_status="DELIVRD",
        event_time=micros(dt.datetime(2020, 2, 4, 8, 9, 42, 389630, tzinfo=dt.UTC)),
        price="0.2", raw_time="2020-02-04T08:09:42.389630",
    )


def test_omnichannel_timestamp_is_read_in_the_configured_zone() -> None:
    tallinn = Options(zones={"messente": ZoneInfo("Europe/Tallinn")})
    r = parse(omni(timestamp="2026-03-12T11:14:07.880312"), tallinn)
    assert r.event_time == micros(dt.datetime(2026, 3, 12, 9, 14, 7, 880312, tzinfo=dt.UTC))
    assert r.raw_time == "2026-03-12T11:14:07.880312"
    other = Options(zones={"vonage": ZoneInfo("Europe/Tallinn")})
    assert parse(omni(timestamp="2026-03-12T09:14:07"), other).event_time == micros(
        dt.datetime(2026, 3, 12, 9, 14, 7, tzinfo=dt.UTC))


def test_omnichannel_timestamp_with_an_offset_keeps_it() -> None:
    tallinn = Options(zones={"messente": ZoneInfo("Europe/Tallinn")})
    r = parse(omni(timestamp="2026-03-12T09:14:07Z"), tallinn)
    assert r.event_time == micros(dt.datetime(2026, 3, 12, 9, 14, 7, tzinfo=dt.UTC))


def test_receipts_without_a_time_take_received_at() -> None:
    assert parse(get()).event_time == RECEIVED
    r = parse(omni(timestamp=None))
    assert (r.event_time, r.raw_time) == (RECEIVED, None)


def test_no_time_and_no_received_at_is_an_error() -> None:
    assert reason(get(), Options()) == "no time in receipt and no received_at in options"
    assert reason(omni(timestamp=DROP), Options()) == "timestamp missing, and no received time to fall back on"


@pytest.mark.parametrize(
    ("price_info", "price"),
    [({"part_price": "0.0450", "parts_count": 2, "total_price": "0.0900"}, "0.0900"),
     ({"total_price": 0.2}, "0.2"), ({"total_price": 1}, "1"), (None, None), ({}, None), (DROP, None)],
)
def test_price_is_the_total_as_decimal_text(price_info: object, price: str | None) -> None:
    assert parse(omni(price_info=price_info)).price == price


def test_no_phone_number_is_kept() -> None:
    r = parse(omni())
    assert PHONE not in repr(r) and "ShopAlert" not in repr(r)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", "empty receipt"),
        (b"  \r\n", "empty receipt"),
        (b"\xff\xfe{}", "not UTF-8 at byte 0"),
        (b'{"status": "DELIVRD", "message_id": ', "invalid JSON"),
        (b'["DELIVRD"]', "JSON receipt is a list, not an object"),
        (omni(message_id=DROP), "missing field 'message_id'"),
        (omni(message_id=""), "missing field 'message_id'"),
        (omni(message_id=["x"]), "field 'message_id' is a list, expected text"),
        (omni(status=None), "missing field 'status'"),
        (omni(status="QUEUED"), "unknown messente status 'QUEUED'"),
        (omni(status={"DELIVRD": 1}), "field 'status' is a dict, expected text"),
        (get(sms_unique_id=None), "missing field 'sms_unique_id'"),
        (get(stat="DELIVERD"), "unknown messente stat 'DELIVERD'"),
        (get(stat=None, status="QUEUED"), "unknown messente status 'QUEUED'"),
        (get(stat=None, **{"dlr-mask": "3"}), "unknown messente dlr-mask '3'"),
        (get(stat=None), "messente receipt has no 'stat', 'status' or 'dlr-mask'"),
        (b"sms_unique_id=x&stat", "invalid query string"),
        (b"id:123 sub:001 dlvrd:001 submit date:2603120914 done date:2603120914 stat:DELIVRD err:000",
         "messente sends no SMPP receipt text"),
        (b"DELIVRD", "not JSON, not a URL query, not SMPP receipt text"),
    ],
)
def test_errors_say_why(payload: bytes, expected: str) -> None:
    assert reason(payload).startswith(expected)


def test_unicode_digits_are_not_an_error_code() -> None:
    receipt = parse(get(err="\u0661"), OPTS)
    assert (receipt.error_code, receipt.error_category) == ("\u0661", None)
    assert receipt.warnings == ("error code: unknown '\u0661', kept without a category",)


# What does not decide the outcome is tolerated and named (shapes of Messente's
# DeliveryResult.md and PriceInfo.md, messente/messente-api-python; values broken).
@pytest.mark.parametrize(
    ("payload", "warnings", "error_code"),
    [
        (omni(err=77), ("error code: unknown '77', kept without a category",), "77"),
        (omni(err="E1"), ("error code: unknown 'E1', kept without a category",), "E1"),
        (omni(err=True), ("err: not text True, ignored",), None),
        (omni(timestamp="yesterday"), ("timestamp: unreadable 'yesterday'; event time from the received time",), None),
        (omni(timestamp=DROP), ("timestamp: missing; event time from the received time",), None),
        (omni(price_info="0.2"), ("price_info: not an object '0.2', ignored",), None),
        (omni(price_info={"total_price": "0,20"}), ("total_price: not a decimal '0,20', ignored",), None),
        (get(err="011"), ("error code: unknown '11', kept without a category",), "11"),
        (get(err="-1"), ("error code: unknown '-1', kept without a category",), "-1"),
    ],
)
def test_tolerated(payload: bytes, warnings: tuple[str, ...], error_code: str | None) -> None:
    receipt = parse(payload, OPTS)
    assert (receipt.warnings, receipt.error_code, receipt.error_category) == (warnings, error_code, None)
    assert receipt.price is None or "price" not in warnings[0]
    if "received time" in warnings[0]:
        assert (receipt.event_time, receipt.raw_time) == (RECEIVED, None)


# Hypothesis: whatever arrives, parse gives a Receipt or a ReceiptError, nothing else.
FIELDS = ["status", "message_id", "err", "timestamp", "price_info", "sms_unique_id", "stat", "dlr-mask"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from([*STAT, *GENERAL, "000", "999", "2026-03-12T09:14:07", "0.2"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["total_price", "x"]), inner),
    max_leaves=6,
)


def must_be_receipt_or_reason(payload: bytes, options: Options) -> None:
    try:
        assert isinstance(messente.parse(payload, options), Receipt)
    except ReceiptError as exc:
        assert str(exc)


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    must_be_receipt_or_reason(payload, OPTS)


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS), values), st.booleans())
def test_arbitrary_json_objects(fields: dict[str, Any], received: bool) -> None:
    payload = json.dumps(fields).encode()
    must_be_receipt_or_reason(payload, OPTS if received else Options())


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=20) | st.sampled_from([*STAT, *MASK, "0"])))
def test_arbitrary_queries(fields: dict[str, str]) -> None:
    must_be_receipt_or_reason(urlencode(fields).encode(), OPTS)


def test_sample_lines_all_parse_but_the_one_broken_json() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    assert 10 <= len(lines) <= 14
    parsed: list[tuple[int, Receipt]] = []
    failed: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append((number, messente.parse(line, OPTS)))
        except ReceiptError as exc:
            failed.append((number, str(exc)))
    assert len(failed) == 1 and failed[0][1].startswith("invalid JSON"), failed
    # What the sample is for: both formats, a duplicate, a failure with a code,
    # and a final that arrives before a transient of the same message.
    assert any(line.startswith(b"{") for line in lines) and any(b"sms_unique_id=" in line for line in lines)
    assert len(set(lines)) == len(lines) - 1
    assert any(r.error_code and r.error_category for _, r in parsed)
    assert any(
        a.message_key == b.message_key and a.final and not b.final
        for i, (_, a) in enumerate(parsed) for _, b in parsed[i + 1:]
    )
