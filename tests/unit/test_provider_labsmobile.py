"""LabsMobile ack callbacks: article 77000492543's states and reasons, the ok/ko form, times, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.mappings import Mappings
from streams.core.model import RANK, ErrorCategory, Receipt, ReceiptError, Status, is_final_everywhere, parse_iso
from streams.core.providers import Options, normalize
from streams.core.providers.labsmobile import parse as labsmobile

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "core" / "providers" / "labsmobile" / "samples.txt"
UTC = Options()
MSISDN = "34600000199"


def ack(**fields: str | None) -> bytes:
    """One GET query string as LabsMobile sends it, in its documented field order."""
    base: dict[str, str | None] = {"acklevel": "handset", "msisdn": MSISDN, "status": "Delivered", "desc": "",
            "subid": "69c3e1a0b7f21", "timestamp": "2026-03-14 09:15:09"}
    base.update(fields)
    return urlencode({k: v for k, v in base.items() if v is not None}).encode()


def parse(options: Options = UTC, **fields: str | None) -> Receipt:
    return labsmobile.parse(ack(**fields), options)


def variants(word: str) -> list[str]:
    return [word, word.lower(), word.upper(), word.swapcase()]


# Article 77000492543 ("Statuses of an SMS message"), every state name: (Status, final).
SEED_STATES = {
    "Processed": (Status.QUEUED, False),
    "Sent": (Status.SENT, False),
    "Not sent": (Status.SKIPPED, True),
    "Rejected or Undeliverable": (Status.UNDELIVERED, True),
    "Rejected": (Status.UNDELIVERED, True),
    "Undeliverable": (Status.UNDELIVERED, True),
    "Expired": (Status.EXPIRED, True),
    "Approved": (Status.ACCEPTED, False),
    "Delivered": (Status.DELIVERED, True),
}

# Article 77000492543, the six reasons of Not sent: (ErrorCategory, retryable).
SEED_REASONS = {
    "Duplicate": (ErrorCategory.THROTTLED, True),
    "Test": (ErrorCategory.TEST, False),
    "Blacklist": (ErrorCategory.BLACKLISTED, False),
    "Incorrect format": (ErrorCategory.INVALID_NUMBER, False),
    "Functionality not permitted": (ErrorCategory.ROUTING, False),
    "Destination not permitted": (ErrorCategory.ROUTING, False),
}


@pytest.mark.parametrize(("word", "expected"), [(v, e) for w, e in SEED_STATES.items() for v in variants(w)])
def test_every_seed_state_case_insensitively(word: str, expected: tuple[Status, bool]) -> None:
    r = parse(status=word)
    assert (r.status, r.final) == expected
    assert r.provider == "labsmobile" and r.message_id == "69c3e1a0b7f21"
    assert r.provider_status == word


@pytest.mark.parametrize(
    ("reason", "expected"), [(v, e) for w, e in SEED_REASONS.items() for v in variants(w)]
)
def test_every_not_sent_reason_case_insensitively(reason: str, expected: tuple[ErrorCategory, bool]) -> None:
    r = parse(status="NOT SENT", desc=reason, acklevel="gateway")
    assert (r.status, r.final) == (Status.SKIPPED, True)
    assert (r.error_category, r.retryable) == expected
    assert r.error_code == reason.lower()


@pytest.mark.parametrize("reason", list(SEED_REASONS))
def test_a_reason_in_status_is_a_not_sent(reason: str) -> None:
    # LabsMobile's FAQ lists Duplicate among the states themselves.
    r = parse(status=reason)
    assert r.status is Status.SKIPPED and r.error_category is SEED_REASONS[reason][0]


def test_blanks_inside_a_state_name_do_not_matter() -> None:
    r = parse(status="  not   Sent ", desc=" incorrect  FORMAT ")
    assert r.status is Status.SKIPPED and r.error_code == "incorrect format"


def test_not_sent_without_reason_is_still_skipped() -> None:
    r = parse(status="Not sent", desc="")
    assert r.status is Status.SKIPPED
    assert (r.error_code, r.error_category, r.retryable) == (None, None, None)


def test_failures_carry_a_category_and_successes_none() -> None:
    expired = parse(status="Expired")
    assert (expired.error_code, expired.error_category, expired.retryable) == (
        "expired", ErrorCategory.EXPIRED, True)
    undeliverable = parse(status="Rejected or undeliverable")
    assert (undeliverable.error_category, undeliverable.retryable) == (ErrorCategory.GENERIC, False)
    for word in ("Processed", "Sent", "Approved", "Delivered"):
        r = parse(status=word)
        assert (r.error_code, r.error_category, r.retryable) == (None, None, None)


def test_desc_of_a_state_other_than_not_sent_is_a_description() -> None:
    assert parse(status="Delivered", desc="Entregado al terminal").status is Status.DELIVERED


# The ok/ko form seen in public LabsMobile handlers: (status, acklevel, desc) -> (Status, final, error).
OK_KO = [
    ("ok", "handset", "DELIVRD", Status.DELIVERED, True, None),
    ("OK", "handset", "delivrd", Status.DELIVERED, True, None),
    ("ok", "handset", "Delivered", Status.DELIVERED, True, None),
    ("ko", "handset", "UNDELIV", Status.UNDELIVERED, True, ErrorCategory.GENERIC),
    ("ko", "operator", "REJECTD", Status.UNDELIVERED, True, ErrorCategory.GENERIC),
    ("ko", "handset", "EXPIRED", Status.EXPIRED, True, ErrorCategory.EXPIRED),
    ("ko", "error", "UNKNOWN", Status.UNKNOWN, True, ErrorCategory.GENERIC),
    ("KO", "gateway", "Blacklist", Status.SKIPPED, True, ErrorCategory.BLACKLISTED),
    ("ok", "gateway", "", Status.SENT, False, None),
    ("ok", "operator", "", Status.ACCEPTED, False, None),
    ("ok", "HANDSET", "", Status.DELIVERED, True, None),
]


@pytest.mark.parametrize(("verdict", "level", "desc", "status", "final", "category"), OK_KO)
def test_ok_ko_form(
    verdict: str, level: str, desc: str, status: Status, final: bool, category: ErrorCategory | None
) -> None:
    r = parse(status=verdict, acklevel=level, desc=desc)
    assert (r.status, r.final, r.error_category) == (status, final, category)
    assert r.provider_status == f"{verdict}/{desc or level}"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": "ok", "desc": "UNDELIV"}, "status 'ok' contradicts desc 'UNDELIV'"),
        ({"status": "ok", "desc": "Duplicate"}, "status 'ok' contradicts desc 'Duplicate'"),
        ({"status": "ko", "desc": "DELIVRD"}, "status 'ko' contradicts desc 'DELIVRD'"),
        ({"status": "ko", "desc": "Sent"}, "status 'ko' contradicts desc 'Sent'"),
        ({"status": "ko", "desc": ""}, "status 'ko' without desc"),
        ({"status": "ok", "desc": "", "acklevel": "error"}, "status 'ok' with acklevel 'error'"),
        ({"status": "ok", "desc": "", "acklevel": None}, "missing field 'acklevel'"),
        ({"status": "ok", "desc": "", "acklevel": "satellite"}, "unknown labsmobile acklevel 'satellite'"),
        ({"status": "ok", "desc": "Pending"}, "unknown labsmobile status 'Pending'"),
    ],
)
def test_ok_ko_refuses_what_it_cannot_read(fields: dict[str, str | None], reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        parse(UTC, **fields)


def test_time_without_zone_is_utc_by_default() -> None:
    r = parse(timestamp="2026-03-14 09:15:09")
    assert r.event_time == parse_iso("2026-03-14T09:15:09Z")
    assert r.raw_time == "2026-03-14 09:15:09"


def test_time_without_zone_is_read_in_the_configured_zone() -> None:
    madrid = Options(zones={"labsmobile": ZoneInfo("Europe/Madrid")})
    assert parse(madrid, timestamp="2026-03-14 09:15:09").event_time == parse_iso("2026-03-14T08:15:09Z")
    assert parse(madrid, timestamp="2026-07-14 09:15:09").event_time == parse_iso("2026-07-14T07:15:09Z")
    # Another provider's zone is not ours.
    other = Options(zones={"messente": dt.timezone(dt.timedelta(hours=3))})
    assert parse(other).event_time == parse_iso("2026-03-14T09:15:09Z")


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2026-03-14T09:15:09", "2026-03-14T08:15:09Z"),  # Madrid is UTC+1 in March
        ("2026-03-14 09:15:09.250", "2026-03-14T08:15:09.250Z"),
        ("2026-03-14T09:15:09+02:00", "2026-03-14T07:15:09Z"),  # an offset wins over the zone
        ("2026-03-14T09:15:09Z", "2026-03-14T09:15:09Z"),
    ],
)
def test_time_forms(raw: str, utc: str) -> None:
    r = parse(Options(zones={"labsmobile": ZoneInfo("Europe/Madrid")}), timestamp=raw)
    assert (r.event_time, r.raw_time) == (parse_iso(utc), raw)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (ack(subid=None), "missing field 'subid'"),
        (ack(subid="  "), "missing field 'subid'"),
        (ack(status=None), "missing field 'status'"),
        (ack(status="Pending"), "unknown labsmobile status 'Pending'"),
        (b"acklevel=handset&status=Delivered&subid=\xff\xfe", "not UTF-8 at byte"),
        (b"", "empty receipt"),
        (b" \r\n", "empty receipt"),
        (b'{"subid": "x", "status": "Delivered"}', "invalid query string"),
    ],
)
def test_errors_name_their_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        labsmobile.parse(payload, UTC)


RECEIVED = Options(received_at=parse_iso("2026-03-14T10:00:00Z"))


# What does not decide the outcome is tolerated and named; the forms are those
# of _OBSERVED's public handlers (Equidna BirdFlock's test sends `desc=` empty
# and a space-separated timestamp; the FastAPI module's acklevels).
@pytest.mark.parametrize(
    ("fields", "warnings"),
    [
        ({"timestamp": None}, ("timestamp: missing; event time from the received time",)),
        ({"timestamp": "14/03/2026 09:15"},
         ("timestamp: unreadable '14/03/2026 09:15'; event time from the received time",)),
        ({"timestamp": "2026-02-30 09:15:09"},
         ("timestamp: unreadable '2026-02-30 09:15:09'; event time from the received time",)),
        ({"timestamp": "2026-03-14T09:15:09+25:00"},
         ("timestamp: unreadable '2026-03-14T09:15:09+25:00'; event time from the received time",)),
        ({"status": "Delivered", "acklevel": "satellite"}, ("acklevel: unknown 'satellite', ignored",)),
        ({"status": "Not sent", "desc": "Quota"},
         ("'Not sent' reason: unknown 'quota', kept without a category",)),
    ],
)
def test_tolerated(fields: dict[str, str | None], warnings: tuple[str, ...]) -> None:
    r = parse(RECEIVED, **fields)
    assert r.warnings == warnings
    assert r.message_id == "69c3e1a0b7f21"
    if "received time" in warnings[0]:
        assert (r.event_time, r.raw_time) == (RECEIVED.received_at, None)


@pytest.mark.parametrize("desc", ["BLOCKED", "READ", "blocked"])
def test_desc_words_no_source_defines_are_refused_with_the_reason(desc: str) -> None:
    # The FastAPI module of _OBSERVED lists desc BLOCKED; neither it nor article
    # 77000492543 says whether the operator or LabsMobile blocked the message.
    with pytest.raises(ReceiptError, match=f"labsmobile '{desc}' names no state of article 77000492543.*DLR_MAPPINGS"):
        parse(UTC, status="ko", desc=desc)


def test_a_mapping_reads_a_word_no_source_defines() -> None:
    mapped = Options(mappings=Mappings(statuses={"labsmobile": {"blocked": (Status.REJECTED, True)}}))
    r = parse(mapped, status="ko", desc="BLOCKED")
    assert (r.status, r.final, r.provider_status, r.error_code) == (Status.REJECTED, True, "ko/BLOCKED", None)
    with pytest.raises(ReceiptError, match="status 'ok' contradicts desc 'BLOCKED'"):
        parse(mapped, status="ok", desc="BLOCKED")


def test_full_callback_url_and_registration() -> None:
    r = normalize("labsmobile", b"https://client.example/lm/ack?" + ack())
    assert r.status is Status.DELIVERED and r.message_key == "labsmobile:69c3e1a0b7f21"


def test_the_msisdn_is_never_kept() -> None:
    for word in (*SEED_STATES, "ok"):
        r = parse(status=word, acklevel="gateway")
        assert MSISDN not in repr(r)


def test_tables_are_consistent() -> None:
    for word, (status, final) in labsmobile.STATES.items():
        assert word == " ".join(word.split()).casefold()
        # Final everywhere at or above FINAL_RANK; below it only the provider's word.
        assert final or not is_final_everywhere(status), word
    assert set(labsmobile.FAILURES) <= set(labsmobile.STATES)
    assert all(RANK[labsmobile.STATES[w][0]] >= 50 for w in labsmobile.FAILURES)
    assert {w for w in labsmobile.ACK_LEVELS.values() if w} <= set(labsmobile.STATES)
    assert set(labsmobile.NOT_SENT_REASONS) == {r.lower() for r in SEED_REASONS}


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_receipt_or_a_reason(payload: bytes) -> None:
    try:
        assert isinstance(labsmobile.parse(payload, UTC), Receipt)
    except ReceiptError as exc:
        assert str(exc)


WORDS = st.sampled_from(
    [*SEED_STATES, *SEED_REASONS, "ok", "ko", "DELIVRD", "UNDELIV", "gateway", "operator", "handset",
     "error", "", " ", "2026-03-14 09:15:09", "2026-03-14T09:15:09+01:00"]
)


@settings(max_examples=500)
@given(st.dictionaries(st.sampled_from(["acklevel", "msisdn", "status", "desc", "subid", "timestamp"]),
                       WORDS | st.text(max_size=30)))
def test_arbitrary_fields_give_a_receipt_or_a_reason(fields: dict[str, str]) -> None:
    madrid = Options(zones={"labsmobile": ZoneInfo("Europe/Madrid")})
    try:
        r = labsmobile.parse(urlencode(fields).encode(), madrid)
    except ReceiptError as exc:
        assert str(exc)
    else:
        assert r.final or not is_final_everywhere(r.status)
        assert r.message_id == fields["subid"].strip()


def test_every_sample_parses_but_the_one_bad_line() -> None:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    assert 10 <= len(lines) <= 14
    bad: list[tuple[int, str]] = []
    receipts: list[Receipt] = []
    for number, line in enumerate(lines, 1):
        try:
            receipts.append(labsmobile.parse(line.encode(), UTC))
        except ReceiptError as exc:
            bad.append((number, str(exc)))
    assert bad == [(len(lines), "unknown labsmobile status 'Queued'")]
    assert len({r.message_id for r in receipts}) == 4
    # One exact duplicate line, one final receipt ahead of a transient of the same message.
    assert len(lines) - len(set(lines)) == 1
    assert any(
        a.message_id == b.message_id and a.final and not b.final and a.event_time > b.event_time
        for i, a in enumerate(receipts) for b in receipts[i + 1:]
    )
    assert {r.status for r in receipts} >= {Status.QUEUED, Status.SENT, Status.DELIVERED, Status.SKIPPED}
