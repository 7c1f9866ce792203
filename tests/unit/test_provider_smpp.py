"""Plain SMPP 3.4 receipt text: fields, statuses, dates, ids, errors."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.mappings import Mappings
from streams.core.model import FINAL_RANK, RANK, Receipt, ReceiptError, Status, parse_iso
from streams.core.providers import Options, normalize
from streams.core.providers.smpp.parse import STATUSES, parse
from streams.core.providers.smpp.parse import fields as read_fields


def fields(body: str) -> dict[str, str]:
    return read_fields(body, [])

SAMPLES = Path(__file__).parents[2] / "streams" / "core" / "providers" / "smpp" / "samples.txt"
UTC = Options()


def line(
    stat: str = "DELIVRD",
    *,
    id_: str = "3f9a1c07",
    done: str = "2603100902",
    err: str = "000",
    text: str | None = "Your code is 4821",
) -> bytes:
    body = f"id:{id_} sub:001 dlvrd:001 submit date:2603100900 done date:{done} stat:{stat} err:{err}"
    return (body if text is None else f"{body} text:{text}").encode()


@pytest.mark.parametrize(("word", "expected"), sorted(STATUSES.items()))
def test_every_status_word(word: str, expected: tuple[Status, bool]) -> None:
    receipt = parse(line(word), UTC)
    assert (receipt.status, receipt.final) == expected
    assert receipt.provider_status == word


@pytest.mark.parametrize(
    ("word", "status", "final"),
    [
        ("DELIVRD", Status.DELIVERED, True),
        ("EXPIRED", Status.EXPIRED, True),
        ("DELETED", Status.CANCELLED, True),
        ("UNDELIV", Status.UNDELIVERED, True),
        ("ACCEPTD", Status.ACCEPTED, False),  # Kannel: not final
        ("UNKNOWN", Status.UNKNOWN, True),
        ("REJECTD", Status.REJECTED, True),
        ("ENROUTE", Status.SENT, False),
        ("ACKED", Status.SENT, False),
        ("BUFFRED", Status.QUEUED, False),
        ("BUFFERD", Status.QUEUED, False),
        ("SCHEDLD", Status.SCHEDULED, False),
        ("SKIPPED", Status.SKIPPED, True),
    ],
)
def test_documented_mapping(word: str, status: Status, final: bool) -> None:
    assert STATUSES[word] == (status, final)


def test_final_at_final_rank() -> None:
    for status, final in STATUSES.values():
        if RANK[status] >= FINAL_RANK:
            assert final


def test_full_receipt() -> None:
    receipt = parse(line("UNDELIV", err="001"), UTC)
    assert receipt == Receipt(
        provider="smpp",
        message_id="3f9a1c07",
        status=Status.UNDELIVERED,
        final=True,
        provider_status="UNDELIV",
        event_time=parse_iso("2026-03-10T09:02:00Z"),
        error_code="001",
        raw_time="2603100902",
    )


def test_fields() -> None:
    assert fields(line().decode()) == {
        "id": "3f9a1c07",
        "sub": "001",
        "dlvrd": "001",
        "submit date": "2603100900",
        "done date": "2603100902",
        "stat": "DELIVRD",
        "err": "000",
        "text": "Your code is 4821",
    }


def test_twelve_digit_dates_have_seconds() -> None:
    receipt = parse(line(done="260310091731"), UTC)
    assert receipt.event_time == parse_iso("2026-03-10T09:17:31Z")
    assert receipt.raw_time == "260310091731"


def test_zone_option_is_honoured() -> None:
    cet = Options(zones={"smpp": dt.timezone(dt.timedelta(hours=1))})
    assert parse(line(done="2603100902"), cet).event_time == parse_iso("2026-03-10T08:02:00Z")
    # another provider's zone does not apply
    other = Options(zones={"gatewayapi": dt.timezone(dt.timedelta(hours=1))})
    assert parse(line(done="2603100902"), other).event_time == parse_iso("2026-03-10T09:02:00Z")


def test_sixty_four_char_id_kept_as_given() -> None:
    long_id = "A" * 32 + "0f" * 16
    assert parse(line(id_=long_id), UTC).message_id == long_id
    with pytest.raises(ReceiptError, match="id longer than 64 characters"):
        parse(line(id_=long_id + "1"), UTC)


def test_ids_are_not_converted() -> None:
    assert parse(line(id_="00FF"), UTC).message_id == "00FF"
    assert parse(line(id_="20260310091500000123"), UTC).message_id == "20260310091500000123"


def test_text_with_spaces_colons_and_field_names() -> None:
    text = "Reminder: dentist 14:30 stat:DELIVRD err:999"
    assert fields(line(text=text).decode())["text"] == text
    assert parse(line("ENROUTE", text=text), UTC).status == Status.SENT


def test_text_absent_or_empty() -> None:
    assert "text" not in fields(line(text=None).decode())
    assert parse(line(text=None), UTC).status == Status.DELIVERED
    assert fields(line(text="").decode())["text"] == ""


def test_text_is_not_a_reference() -> None:
    assert parse(line(text="order-7731"), UTC).reference is None


def test_case_and_whitespace_variations() -> None:
    body = (b"  ID:abc  Sub:001 DLVRD:001 Submit  Date:2603100900 "
            b"DONE DATE :2603100902 Stat:delivrd Err:0 Text:Hi \t")
    receipt = parse(body, UTC)
    assert (receipt.message_id, receipt.status) == ("abc", Status.DELIVERED)
    assert receipt.provider_status == "DELIVRD"
    assert receipt.error_code is None


def test_mblox_style_padding() -> None:
    body = (b"id:1671112327 sub:001 dlvrd:001 submit date:1410102256 done date:1410102255 "
            b"stat:ACKED   err:003 text: ")
    receipt = parse(body, UTC)
    assert (receipt.status, receipt.final, receipt.error_code) == (Status.SENT, False, "003")


@pytest.mark.parametrize(("err", "code"), [("000", None), ("0", None), ("00000", None), ("001", "001"),
                                           ("0x0B", "0x0B"), ("ABC", "ABC")])
def test_err_is_kept_raw_and_uncategorised(err: str, code: str | None) -> None:
    receipt = parse(line("UNDELIV", err=err), UTC)
    assert (receipt.error_code, receipt.error_category, receipt.retryable) == (code, None, None)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty receipt"),
        (b"   \n", "empty receipt"),
        (b"\xff\xfeid:1", "not UTF-8 at byte 0"),
        (b'{"id": 1}', "not SMPP receipt text"),
        (line("DELIVERD"), "unknown smpp status 'DELIVERD'"),
        (line("FOO"), "unknown smpp status 'FOO'"),
        (b"sub:001 dlvrd:001 submit date:2603100900 done date:2603100902 stat:DELIVRD err:000",
         "missing field 'id'"),
        (b"id:c41d07e2 sub:001 dlvrd:000 submit date:2603101502 done date:26031015", "missing field 'stat'"),
        (line(id_=""), "field 'id' is empty"),
        (line(stat="DELIV RD"), "field 'stat' is not one word"),
        (b"garbage id:1 done date:2603100902 stat:DELIVRD err:000", "unexpected text 'garbage'"),
        (b"id:1 id:2 done date:2603100902 stat:DELIVRD err:000", "two different 'id' fields: '1' and '2'"),
        (b"id:1 done date:2603100902 stat:DELIVRD stat:UNDELIV", "two different 'stat' fields"),
        (b"id:1 stat:DND_REJECTED", "unknown smpp status 'DND_REJECTED'"),
    ],
)
def test_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason.replace("(", r"\(")):
        parse(payload, UTC)


@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    with contextlib.suppress(ReceiptError):
        assert isinstance(parse(payload, UTC), Receipt)


_FIELD = st.sampled_from(
    ["id:", "ID:", "sub:", "dlvrd:", "submit date:", "done  date:", "stat:", "err:", "text:", ":", " ", "\t",
     "\n", "0", "2603100902", "260310090259", "DELIVRD", "acceptd", "FOO", "٣", "ß", "x" * 65]
)


@given(st.lists(_FIELD, max_size=25).map("".join))
def test_receipt_like_text(body: str) -> None:
    with contextlib.suppress(ReceiptError):
        assert isinstance(parse(body.encode(), UTC), Receipt)


def test_sample_file() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    assert 10 <= len(lines) <= 14
    bad: list[int] = []
    for number, raw in enumerate(lines, 1):
        try:
            normalize("smpp", raw)
        except ReceiptError as exc:
            bad.append(number)
            assert str(exc) == "missing field 'stat'"  # the truncated last line
    assert bad == [len(lines)]


# --- receipts as they really arrive: each from a public example, its source named ----------

RECEIVED = Options(received_at=parse_iso("2026-03-10T12:00:00Z"))


def test_jsmpp_trailing_words_after_err_without_text() -> None:
    # opentelecoms-org/jsmpp, DeliveryReceiptParserTest.parseWithNoTextAttribute
    body = (b"id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 "
            b"stat:DELIVRD err:000 testing jsmpp bow")
    receipt = parse(body, RECEIVED)
    assert (receipt.message_id, receipt.status, receipt.error_code) == ("0123456789", Status.DELIVERED, None)
    assert receipt.event_time == parse_iso("2008-09-01T11:31:00Z")
    assert receipt.warnings == ("err: trailing 'testing jsmpp bow' ignored",)


def test_jsmpp_fields_out_of_order_and_a_vendor_word_is_a_dead_letter_until_mapped() -> None:
    # opentelecoms-org/jsmpp, jsmpp-examples CustomDeliveryReceiptStripperTest.testParseValid:
    # err before stat, and a stat word of the vendor's own.
    body = (b"id:0123456789 sub:002 dlvrd:003 submit date:0809011130 done date:0809021131 "
            b"err:123 stat:DND_REJECTED text:Hello World")
    with pytest.raises(ReceiptError, match="unknown smpp status 'DND_REJECTED'"):
        parse(body, RECEIVED)
    mapped = Options(mappings=Mappings(statuses={"smpp": {"dnd_rejected": (Status.REJECTED, True)}}))
    receipt = parse(body, mapped)
    assert (receipt.status, receipt.final, receipt.provider_status) == (Status.REJECTED, True, "DND_REJECTED")
    assert (receipt.error_code, receipt.event_time, receipt.warnings) == ("123", parse_iso("2008-09-02T11:31:00Z"), ())


def test_jsmpp_upper_case_text_field() -> None:
    # opentelecoms-org/jsmpp, DeliveryReceiptParserTest.parsingTextWithUpperCase
    body = (b"id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 "
            b"stat:DELIVRD err:000 Text:testing jsmpp bow")
    assert fields(body.decode())["text"] == "testing jsmpp bow"
    assert parse(body, RECEIVED).warnings == ()


def test_four_digit_year_in_twelve_digits_without_sub_dlvrd_or_text() -> None:
    # An SMPP gateway's test suite (Java, net.redvoiss.sms.smpp.dlr DLRTest.testSmsDeliveryDlr):
    # 201907191552 is only a date as YYYYMMDDhhmm (month 19 does not exist).
    body = (b"id:4e05c166-6ced-40df-9e1d-2bbcb0c14cd3 submit date:201907191552 "
            b"done date:201907191552 stat:UNDELIV err:005")
    receipt = parse(body, RECEIVED)
    assert (receipt.status, receipt.error_code) == (Status.UNDELIVERED, "005")
    assert (receipt.event_time, receipt.raw_time, receipt.warnings) == (
        parse_iso("2019-07-19T15:52:00Z"), "201907191552", ())


def test_larvitsmpp_spelled_out_stat_word() -> None:
    # larvit/larvitsmpp lib/utils.js smsDlr(): "stat:UNDELIVERABLE err:1 text:xxx"
    body = b"id:9 sub:001 dlvrd:001 submit date:2603100900 done date:2603100902 stat:UNDELIVERABLE err:1 text:xxx"
    receipt = parse(body, RECEIVED)
    assert (receipt.status, receipt.final, receipt.provider_status) == (Status.UNDELIVERED, True, "UNDELIVERABLE")
    assert receipt.error_code == "1"


def test_smpp_simulator_spelled_out_delivered_without_text() -> None:
    # An SMPP vendor simulator on node-smpp (session.deliver_sm in its submit_sm handler):
    # "... submit date:2403211200 done date:2403211201 stat:DELIVERED err:000", no text field.
    body = (b"id:5f0c9d1e-3b7a-4e8f-9a2d-6c1b0e4f7a93 sub:001 dlvrd:001 submit date:2403211200 "
            b"done date:2403211201 stat:DELIVERED err:000")
    receipt = parse(body, RECEIVED)
    assert (receipt.status, receipt.event_time, receipt.warnings) == (
        Status.DELIVERED, parse_iso("2024-03-21T12:01:00Z"), ())


def test_smppex_simulator_iso_dates_and_upper_case_text() -> None:
    # An Elixir SMSC simulator on SMPPEX (delivery_report/2) interpolates a NaiveDateTime:
    # "submit date:2024-03-21 12:00:00 done date:... stat:DELIVERED err:600 TEXT:"
    body = (b"id:1711022400123456789 sub:001 dlvrd:001 submit date:2024-03-21 12:00:00 "
            b"done date:2024-03-21 12:00:05 stat:DELIVERED err:600 TEXT:")
    receipt = parse(body, RECEIVED)
    assert (receipt.status, receipt.error_code, receipt.warnings) == (Status.DELIVERED, "600", ())
    assert (receipt.event_time, receipt.raw_time) == (parse_iso("2024-03-21T12:00:05Z"), "2024-03-21 12:00:05")


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        ("2603100902", "2026-03-10T09:02:00Z"),  # SMPP 3.4 Appendix B: YYMMDDhhmm
        ("260310090245", "2026-03-10T09:02:45Z"),  # with seconds
        ("20260310090245", "2026-03-10T09:02:45Z"),  # four-digit year
        # SMPP 3.4 section 7.1.1 absolute time: tenths, quarter hours from UTC, sign
        ("260310090245308+", "2026-03-10T07:02:45.300Z"),  # 2 h ahead of UTC
        ("260310090245000-", "2026-03-10T09:02:45Z"),
        ("260310090245004-", "2026-03-10T10:02:45Z"),  # 1 h behind UTC
    ],
)
def test_every_date_form(done: str, expected: str) -> None:
    receipt = parse(line(done=done), RECEIVED)
    assert (receipt.event_time, receipt.raw_time, receipt.warnings) == (parse_iso(expected), done, ())


def test_ambiguous_twelve_digits_take_the_reading_nearest_the_submit_date() -> None:
    # 201201121530: 2020-12-01 12:15:30 (YYMMDDhhmmss) or 2012-01-12 15:30 (YYYYMMDDhhmm)
    near_2020 = parse(line(done="201201121530").replace(b"2603100900", b"2012011210"), RECEIVED)
    assert near_2020.event_time == parse_iso("2020-12-01T12:15:30Z")
    near_2012 = parse(line(done="201201121530").replace(b"2603100900", b"20120112150000"), RECEIVED)
    assert near_2012.event_time == parse_iso("2012-01-12T15:30:00Z")
    assert near_2012.warnings == ("done date: '201201121530' reads as YYMMDDhhmmss and as YYYYMMDDhhmm; "
                                  "the reading nearest the submit date is taken",)
    no_reference = parse(b"id:1 stat:DELIVRD done date:201201121530", UTC)
    assert no_reference.event_time == parse_iso("2020-12-01T12:15:30Z")
    assert no_reference.warnings[0].endswith("YYMMDDhhmmss taken")


@pytest.mark.parametrize(
    ("payload", "warnings"),
    [
        # done date missing or unreadable: the received time
        (b"id:1 stat:DELIVRD err:000", ("done date: missing; event time from the received time",)),
        (line(done="2613100902"), ("done date: unreadable '2613100902'; event time from the received time",)),
        (line(done="26031009021"), ("done date: unreadable '26031009021'; event time from the received time",)),
        (line(done="260310090245004R"),  # a relative time is no date
         ("done date: unreadable '260310090245004R'; event time from the received time",)),
        # err missing, null, or NUL-padded (C-Octet Strings end in NUL: SMPP 3.4 section 3.1)
        (line(err="000").replace(b" err:000", b""), ()),
        (line(err="null"), ()),
        (line("DELIVRD", err="000\x00\x00\x00"), ()),
        (line(text="Hi\x00\x00"), ()),
        # a vendor's own fields between and after the spec's
        (line().replace(b" stat:", b" mcc:234 mnc:10 stat:"), ()),
        (line(text=None) + b" network:23410 price:0.01", ()),
        # submit date unreadable: nothing depends on it but an ambiguous done date
        (line().replace(b"2603100900", b"26031"), ()),
        (line().replace(b"sub:001", b"sub:001 extra"), ("sub: trailing 'extra' ignored",)),
        (b"id:1 stat:DELIVRD done date:2603100902 done date:2603100903",
         ("done date: repeated '2603100903', the first kept",)),
    ],
)
def test_tolerated(payload: bytes, warnings: tuple[str, ...]) -> None:
    receipt = parse(payload, RECEIVED)
    assert receipt.warnings == warnings
    assert receipt.message_id and receipt.provider_status
    if any("received time" in w for w in warnings):
        assert (receipt.event_time, receipt.raw_time) == (RECEIVED.received_at, None)
    if receipt.error_code is not None:
        assert "\x00" not in receipt.error_code


def test_nul_padded_id_and_stat() -> None:
    receipt = parse(b"id:3f9a1c07\x00\x00 stat:DELIVRD\x00 done date:2603100902\x00", RECEIVED)
    assert (receipt.message_id, receipt.status, receipt.warnings) == ("3f9a1c07", Status.DELIVERED, ())
