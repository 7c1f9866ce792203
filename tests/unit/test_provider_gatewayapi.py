"""GatewayAPI: REST webhook JSON, the 2025 webhook envelope, and SMPP receipt text."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.model import (
    FINAL_RANK,
    RANK,
    RETRYABLE,
    ChargeStatus,
    ErrorCategory,
    Receipt,
    ReceiptError,
    Status,
    parse_iso,
)
from streams.core.providers import Options, normalize
from streams.core.providers.gatewayapi.parse import CHARGES, ERRORS, SMPP_STATES, STATUSES, parse

SAMPLES = Path(__file__).parents[2] / "streams" / "core" / "providers" / "gatewayapi" / "samples.txt"
UTC = Options()
T = 1773133209  # 2026-03-10T09:00:09Z

# docs/rest.rst "HTTP Callback", with error and code as the webhook sends them
DOC_EXAMPLE = (
    b'{"id":1000001,"msisdn":4587654321,"time":1450000000,"status":"DELIVERED","error":null,'
    b'"code":null,"userref":"foobar","charge_status":"CAPTURED","country_code":"DK","country_prefix":45}'
)
# docs/smpp.rst "Delivery reports", the two examples
SMPP_DELIVERED = (
    b"id:1390125333 sub:001 dlvrd:000 submit date:2011181054 done date:2011181054 "
    b"stat:DELIVRD err:000 text:user_message_reference"
)
SMPP_UNDELIV = (
    b"id:1390125333 sub:001 dlvrd:000 submit date:2011181145 done date:2011181145 "
    b"stat:UNDELIV err:019 text:user_message_reference"
)


def rest(**changes: Any) -> bytes:
    body: dict[str, Any] = {
        "id": 4283917401, "msisdn": 4512340001, "time": T, "status": "DELIVERED", "error": None,
        "code": None, "userref": "order-7731", "country_code": "DK", "country_prefix": 45,
    }
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def smpp_line(stat: str = "DELIVRD", err: str = "000", text: str = "appt-reminder-88") -> bytes:
    return (
        f"id:4283917404 sub:001 dlvrd:001 submit date:2603100905 done date:2603100906 "
        f"stat:{stat} err:{err} text:{text}"
    ).encode()


def envelope(**changes: Any) -> bytes:
    event: dict[str, Any] = {
        "msg_id": "01JQRJWK259Y1YEECJZB50908V", "recipient": 4512345678, "reference": "ref-9",
        "status": "REJECTED", "status_at": "2026-03-10T11:49:12.005021+00:00",
        "error": {"hex_code": "0x1905", "details": "Unsupported sender"},
    }
    event.update(changes)
    return json.dumps({
        "event_id": "09c829a2-a77b-422d-8562-2f88e784dfb5", "timestamp": "2026-03-10T11:50:12.003029+00:00",
        "event_type": "message.status.sms", "event": event,
    }).encode()


# --- REST webhook --------------------------------------------------------------------------


def test_documented_example() -> None:
    assert parse(DOC_EXAMPLE, UTC) == Receipt(
        provider="gatewayapi",
        message_id="1000001",
        status=Status.DELIVERED,
        final=True,
        provider_status="DELIVERED",
        event_time=1_450_000_000_000_000,
        charge_status=ChargeStatus.CAPTURED,
        reference="foobar",
        raw_time="1450000000",
    )


@pytest.mark.parametrize(
    ("word", "status", "final"),
    [  # GatewayAPI's "SMS Delivery States", "Final" column
        ("UNKNOWN", Status.PENDING, False),
        ("SCHEDULED", Status.SCHEDULED, False),
        ("BUFFERED", Status.QUEUED, False),
        ("ENROUTE", Status.SENT, False),
        ("DELIVERED", Status.DELIVERED, True),
        ("EXPIRED", Status.EXPIRED, True),
        ("DELETED", Status.CANCELLED, True),
        ("UNDELIVERABLE", Status.UNDELIVERED, True),
        ("ACCEPTED", Status.ACCEPTED, True),
        ("REJECTED", Status.REJECTED, True),
        ("SKIPPED", Status.SKIPPED, True),
    ],
)
def test_every_status(word: str, status: Status, final: bool) -> None:
    receipt = parse(rest(status=word), UTC)
    assert (receipt.status, receipt.final, receipt.provider_status) == (status, final, word)


def test_status_table_is_the_seed() -> None:
    assert len(STATUSES) == 11
    for status, final in STATUSES.values():
        if RANK[status] >= FINAL_RANK:
            assert final


@pytest.mark.parametrize("word", list(CHARGES))
def test_every_charge_status(word: str) -> None:
    assert parse(rest(charge_status=word), UTC).charge_status == ChargeStatus(word)


def test_all_seven_charge_statuses() -> None:
    assert set(CHARGES.values()) == set(ChargeStatus)


def test_charge_status_absent_or_null() -> None:
    assert parse(rest(), UTC).charge_status is None
    assert parse(rest(charge_status=None), UTC).charge_status is None


@pytest.mark.parametrize(("code", "entry"), sorted(ERRORS.items()))
def test_every_error_code(code: str, entry: tuple[ErrorCategory, bool | None]) -> None:
    receipt = parse(rest(status="UNDELIVERABLE", code=code.lower().replace("0x", "0X")), UTC)
    category, retryable = entry
    assert receipt.error_code == code
    assert receipt.error_category == category
    assert receipt.retryable == (RETRYABLE[category] if retryable is None else retryable)


@pytest.mark.parametrize(
    ("code", "category", "retryable"),
    [  # the documented examples from the brief and docs/errors.rst
        ("0x1010", ErrorCategory.INVALID_NUMBER, False),  # Unknown subscriber
        ("0x1011", ErrorCategory.BARRED, False),  # Call barred
        ("0x1013", ErrorCategory.UNREACHABLE, True),  # Absent subscriber
        ("0x1023", ErrorCategory.UNREACHABLE, True),  # Subscriber busy for MT SMS
        ("0x1047", ErrorCategory.NETWORK, True),  # Service centre congestion
        ("0x1092", ErrorCategory.RECIPIENT_FUNDS, True),  # Operation barred - insufficient funds
        ("0x1093", ErrorCategory.BARRED, False),  # Illegal mobile subscriber - blocked
        ("0x1904", ErrorCategory.CONTENT_REJECTED, False),  # Message filtered by content
    ],
)
def test_documented_error_examples(code: str, category: ErrorCategory, retryable: bool) -> None:
    receipt = parse(rest(status="UNDELIVERABLE", code=code), UTC)
    assert (receipt.error_code, receipt.error_category, receipt.retryable) == (code, category, retryable)


def test_every_documented_range_is_in_the_table() -> None:
    ranges = [(0x1010, 0x101B), (0x1020, 0x102E), (0x1030, 0x103C), (0x1040, 0x104A),
              (0x1050, 0x1057), (0x1060, 0x1087), (0x1090, 0x1094), (0x1902, 0x1904)]
    for low, high in ranges:
        for value in range(low, high + 1):
            assert f"0x{value:04X}" in ERRORS


def test_code_forms() -> None:
    assert parse(rest(code="0x101a"), UTC).error_code == "0x101A"
    assert parse(rest(code="0x1000"), UTC).error_code is None  # general code 00: success
    assert parse(rest(code=""), UTC).error_code is None


def test_userref_absent() -> None:
    assert parse(rest(userref=...), UTC).reference is None
    assert parse(rest(userref=None), UTC).reference is None


def test_string_id_and_float_time() -> None:
    receipt = parse(rest(id="4283917401", time=T + 0.5), UTC)
    assert (receipt.message_id, receipt.event_time) == ("4283917401", T * 1_000_000 + 500_000)


# --- 2025 webhook envelope -----------------------------------------------------------------


def test_envelope() -> None:
    assert parse(envelope(), UTC) == Receipt(
        provider="gatewayapi",
        message_id="01JQRJWK259Y1YEECJZB50908V",
        status=Status.REJECTED,
        final=True,
        provider_status="REJECTED",
        event_time=parse_iso("2026-03-10T11:49:12.005021Z"),
        error_code="0x1905",
        error_category=ErrorCategory.SENDER_REJECTED,
        retryable=False,
        reference="ref-9",
        raw_time="2026-03-10T11:49:12.005021+00:00",
    )


def test_envelope_without_error_or_reference() -> None:
    receipt = parse(envelope(status="DELIVERED", error=None, reference=None), UTC)
    assert (receipt.status, receipt.error_code, receipt.reference) == (Status.DELIVERED, None, None)


def test_envelope_zone_less_time_uses_zone_option() -> None:
    cet = Options(zones={"gatewayapi": dt.timezone(dt.timedelta(hours=1))})
    receipt = parse(envelope(status_at="2026-03-10T12:49:12"), cet)
    assert receipt.event_time == parse_iso("2026-03-10T11:49:12Z")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (envelope().replace(b"message.status.sms", b"message.status.rcs"),
         "unsupported gatewayapi event_type 'message.status.rcs'"),
        (envelope(status="READ"), "unknown gatewayapi status 'READ'"),
        (envelope(msg_id=None), "missing field 'msg_id'"),
        (b'{"event_type":"message.status.sms","event":[]}', "field 'event' is not an object"),
    ],
)
def test_envelope_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        parse(payload, UTC)


# --- SMPP ----------------------------------------------------------------------------------


def test_smpp_documented_examples() -> None:
    delivered = parse(SMPP_DELIVERED, UTC)
    assert delivered == Receipt(
        provider="gatewayapi",
        message_id="1390125333",
        status=Status.DELIVERED,
        final=True,
        provider_status="DELIVRD",
        event_time=parse_iso("2020-11-18T10:54:00Z"),
        reference="user_message_reference",
        raw_time="2011181054",
    )
    undeliv = parse(SMPP_UNDELIV, UTC)
    # docs/smpp.rst: err:019 is 0x1013, absent subscriber
    assert (undeliv.status, undeliv.error_code) == (Status.UNDELIVERED, "0x1013")
    assert (undeliv.error_category, undeliv.retryable) == (ErrorCategory.UNREACHABLE, True)


@pytest.mark.parametrize(("word", "state"), sorted(SMPP_STATES.items()))
def test_every_smpp_stat(word: str, state: str) -> None:
    receipt = parse(smpp_line(word), UTC)
    assert (receipt.status, receipt.final) == STATUSES[state]
    assert receipt.provider_status == word


def test_acceptd_is_final_at_gatewayapi() -> None:
    assert parse(smpp_line("ACCEPTD"), UTC).final is True


def test_smpp_err_126_is_0x107e() -> None:  # the example in docs/smpp.rst
    assert parse(smpp_line("UNDELIV", err="126"), UTC).error_code == "0x107E"


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_code_through_smpp_err(code: str) -> None:
    err = f"{int(code, 16) - 0x1000:03d}"
    assert parse(smpp_line("UNDELIV", err=err), UTC).error_code == code


def test_smpp_zone_option_and_seconds() -> None:
    cet = Options(zones={"gatewayapi": dt.timezone(dt.timedelta(hours=1))})
    assert parse(smpp_line(), cet).event_time == parse_iso("2026-03-10T08:06:00Z")
    with_seconds = smpp_line().replace(b"done date:2603100906", b"done date:260310090645")
    assert parse(with_seconds, UTC).event_time == parse_iso("2026-03-10T09:06:45Z")


def test_smpp_reference_with_spaces_and_case() -> None:
    body = smpp_line("delivrd", text="ref with spaces").replace(b"text:", b"Text:")
    receipt = parse(body, UTC)
    assert (receipt.reference, receipt.provider_status) == ("ref with spaces", "DELIVRD")
    assert parse(smpp_line(text=""), UTC).reference is None


# --- errors and arbitrary input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty receipt"),
        (b"\xc3\x28", "not UTF-8 at byte 0"),
        (b'{"id":1,', "invalid JSON"),
        (b"[1, 2]", "JSON receipt is a list, not an object"),
        (b"id=1&status=DELIVERED", "not a URL query"),
        (b"hello", "not JSON, not a URL query, not SMPP receipt text"),
        (rest(id=None), "missing field 'id'"),
        (rest(status="DELIVERD"), "unknown gatewayapi status 'DELIVERD'"),
        (rest(status=["DELIVERED"]), "field 'status' is a list, expected text"),
        (rest(charge_status="PENDING"), "unknown gatewayapi charge_status 'PENDING'"),
        (smpp_line("ACKED"), "unknown gatewayapi status 'ACKED'"),
        (smpp_line("BUFFRED"), "unknown gatewayapi status 'BUFFRED'"),
        (SMPP_DELIVERED[:60], "missing field 'stat'"),
        (SMPP_DELIVERED[:86], "unknown gatewayapi status 'DELIV'"),  # cut inside stat:DELIVRD
        (SMPP_DELIVERED.split(b" stat:")[0], "missing field 'stat'"),
    ],
)
def test_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        parse(payload, UTC)


RECEIVED = Options(received_at=parse_iso("2026-03-10T12:00:00Z"))


# What does not decide the outcome is tolerated: the receipt keeps its id and
# status, the field is left null, and the warning quotes what was ignored.
@pytest.mark.parametrize(
    ("payload", "warning", "error_code"),
    [
        (rest(time=...), "time: missing; event time from the received time", None),
        (rest(time="soon"), "time: unreadable 'soon'; event time from the received time", None),
        (rest(time=-1), "time: unreadable '-1'; event time from the received time", None),
        (rest(code="0x1FFF"), "error code: unknown '0x1FFF', kept without a category", "0x1FFF"),
        (rest(code="0x100A"), "error code: unknown '0x100A', kept without a category", "0x100A"),  # 0A-0F
        (rest(code="0x1a"), "error code: unknown '0x001A', kept without a category", "0x001A"),  # canonical form
        (rest(code="1013"), "code: not hex like 0x1013 '1013', ignored", None),  # hex or decimal: not guessed
        (rest(code=4115), "code: not hex like 0x1013 '4115', ignored", None),
        (rest(code="0x10130"), "code: not hex like 0x1013 '0x10130', ignored", None),
        (rest(userref={"a": 1}), "userref: not text {'a': 1}, ignored", None),
        (smpp_line(err="4096"), "err: not decimal 000-4095 '4096', ignored", None),
        (smpp_line(err="0x13"), "err: not decimal 000-4095 '0x13', ignored", None),
        (smpp_line(err="999"), "error code: unknown '0x13E7', kept without a category", "0x13E7"),
        (smpp_line().replace(b"2603100906", b"2602300906"),
         "done date: unreadable '2602300906'; event time from the received time", None),
        (envelope(error="boom"), "error: not an object 'boom', ignored", None),
        (envelope(error={"details": "x"}), "", None),  # no hex_code: no error code, nothing ignored
        (envelope(status_at="yesterday"), "status_at: unreadable 'yesterday'; event time from timestamp", "0x1905"),
    ],
)
def test_tolerated(payload: bytes, warning: str, error_code: str | None) -> None:
    receipt = parse(payload, RECEIVED)
    assert receipt.warnings == ((warning,) if warning else ())
    assert receipt.error_code == error_code
    assert (receipt.error_category is None) == (error_code is None or "unknown" in warning)
    assert receipt.message_id and receipt.provider_status
    if "received time" in warning:
        assert (receipt.event_time, receipt.raw_time) == (RECEIVED.received_at, None)


def test_smpp_word_outside_the_seven_is_read_in_gatewayapis_own_vocabulary() -> None:
    # docs/smpp.rst lists seven stat words; a word GatewayAPI's REST states
    # know (DELETED) means what it means there, not what generic SMPP says.
    receipt = parse(smpp_line("DELETED"), UTC)
    assert (receipt.status, receipt.provider_status) == (STATUSES["DELETED"][0], "DELETED")


def test_tolerated_envelope_time_falls_back_to_the_event_timestamp() -> None:
    receipt = parse(envelope(status_at=None), RECEIVED)
    assert receipt.event_time == parse_iso("2026-03-10T11:50:12.003029Z")
    assert receipt.raw_time == "2026-03-10T11:50:12.003029+00:00"
    assert receipt.warnings == ("status_at: missing; event time from timestamp",)


@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    with contextlib.suppress(ReceiptError):
        assert isinstance(parse(payload, UTC), Receipt)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["DELIVERED", "ENROUTE", "0x1013", "0x1", "CAPTURED", "message.status.sms", "1e400"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "time", "status", "code", "userref", "charge_status", "event_type", "event",
                         "msg_id", "status_at", "error", "hex_code", "reference"]),
        inner, max_size=6),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["id", "time", "status", "code", "userref", "charge_status",
                                        "event_type", "event"]), _JSON, max_size=8))
def test_arbitrary_json_objects(body: dict[str, Any]) -> None:
    with contextlib.suppress(ReceiptError):
        assert isinstance(parse(json.dumps(body).encode(), UTC), Receipt)


def test_sample_file() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    assert 10 <= len(lines) <= 14
    bad: list[int] = []
    for number, raw in enumerate(lines, 1):
        try:
            normalize("gatewayapi", raw)
        except ReceiptError as exc:
            bad.append(number)
            assert str(exc) == "unknown gatewayapi status 'DELIVERD'"
    assert bad == [len(lines)]
