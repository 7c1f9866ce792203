"""Plain SMPP 3.4 receipt text: fields, statuses, dates, ids, errors."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.model import FINAL_RANK, RANK, Receipt, ReceiptError, Status, parse_iso
from streams.core.providers import Options, normalize
from streams.core.providers.smpp.parse import STATUSES, fields, parse

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
        (b"id:1 stat:DELIVRD err:000", "missing field 'done date'"),
        (line(err="000").replace(b" err:000", b""), "missing field 'err'"),
        (line(done="2603100"), "bad done date '2603100'"),
        (line(done="26031009021"), "bad done date '26031009021'"),
        (line(done="2613100902"), "invalid done date '2613100902'"),
        (line(done="2603102461"), "invalid done date '2603102461'"),
        (line(id_=""), "field 'id' is empty"),
        (line(stat="DELIV RD"), "field 'stat' is not one word"),
        (b"garbage id:1 done date:2603100902 stat:DELIVRD err:000", "unexpected text 'garbage'"),
        (b"id:1 id:2 done date:2603100902 stat:DELIVRD err:000", "duplicate field 'id'"),
        (b"id:1 submit date:26031009 done date:2603100902 stat:DELIVRD err:000", "bad submit date"),
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
