"""Jasmin's HTTP DLR: level 1 (the submit's command_status) and level 2 (the
SMSC's receipt), `ND` fields, times, and what is tolerated.

Sources of the examples: jookies/jasmin misc/doc/sources/apis/ja-http/
receiving-dlr.rst (its parameter tables and their example values: id
16fd2706-8baf-433b-82eb-8c7fada847da, ESME_ROK, ESME_RINVNUMDESTS, id_smsc 2567,
dates 1311022338, text "Hello foo bar"), jasmin/routing/throwers.py (the
fields DLRThrower sends, in its order), jasmin/managers/dlr.py and content.py
(which level carries which words) and jasmin/protocols/smpp/operations.py
(`ND` for a receipt field the SMSC did not send)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import generate
from streams.core.mappings import Mappings
from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, is_final_everywhere, parse_iso
from streams.core.providers import Options, normalize
from streams.core.providers.jasmin import PROVIDER, esme
from streams.core.providers.jasmin.parse import RECEIPT_WORDS, RESUBMITTED, SUBMIT_WORDS, parse
from streams.core.providers.smpp.parse import STATUSES as SMPP_STATUSES
from streams.worker.webhooks.routes import ROUTES

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "core" / "providers" / "jasmin" / "samples.txt"
RECEIVED_AT = parse_iso("2026-03-10T12:00:00Z")
RECEIVED = Options(received_at=RECEIVED_AT)
ID = "16fd2706-8baf-433b-82eb-8c7fada847da"  # receiving-dlr.rst's example id


def level1(status: str = "ESME_ROK", /, **fields: str | None) -> bytes:
    """A level 1 DLR as throwers.py builds it: id, level, message_status, connector."""
    values: dict[str, str | None] = {"id": ID, "level": "1", "message_status": status, "connector": "smsc-a"}
    values.update(fields)
    return urlencode({k: v for k, v in values.items() if v is not None}).encode()


def level2(status: str = "DELIVRD", /, **fields: str | None) -> bytes:
    """A level 2 DLR with receiving-dlr.rst's example values (sub, dlvrd and err as
    operations.py pads them to three digits)."""
    values: dict[str, str | None] = {
        "id": ID, "level": "2", "message_status": status, "connector": "2567", "id_smsc": "2567", "sub": "001",
        "dlvrd": "001", "subdate": "1311022338", "donedate": "1311022338", "err": "000", "text": "Hello foo bar",
    }
    values.update(fields)
    return urlencode({k: v for k, v in values.items() if v is not None}).encode()


# --- level 1: the SMSC's answer to the submit ----------------------------------------------


def test_receiving_dlr_level_1_example() -> None:
    r = parse(level1(), RECEIVED)
    assert r == Receipt(provider="jasmin", message_id=ID, status=Status.SENT, final=False, provider_status="ESME_ROK",
                        event_time=RECEIVED_AT)  # a level 1 DLR has no time: the received one, not noted
    refused = parse(level1("ESME_RINVNUMDESTS"), RECEIVED)  # the other example value of message_status
    assert (refused.status, refused.final, refused.error_code, refused.error_category, refused.retryable) == (
        Status.REJECTED, True, "ESME_RINVNUMDESTS", ErrorCategory.INVALID_MESSAGE, False)
    assert refused.message_key == r.message_key == f"jasmin:{ID}"


@pytest.mark.parametrize("name", sorted(esme.CODES))
def test_every_submit_error(name: str) -> None:
    r = parse(level1(name), RECEIVED)
    assert (r.status, r.final) == ((Status.QUEUED, False) if name in RESUBMITTED else (Status.REJECTED, True))
    assert (r.error_code, r.error_category, r.provider_status, r.warnings) == (
        name, esme.BY_NAME[name][0], name, ())


def test_submit_errors_jasmin_resubmits_are_not_final() -> None:
    # configs.py [sm-listener] submit_error_retrial's default, and what listeners.py throws meanwhile
    assert {"ESME_RSYSERR", "ESME_RTHROTTLED", "ESME_RMSGQFUL", "ESME_RINVSCHED"} == RESUBMITTED
    throttled = parse(level1("ESME_RTHROTTLED"), RECEIVED)
    assert (throttled.status, throttled.final, throttled.error_category, throttled.retryable) == (
        Status.QUEUED, False, ErrorCategory.THROTTLED, True)


def test_a_level_1_dlr_needs_a_received_time() -> None:
    with pytest.raises(ReceiptError, match="no time in a level 1 DLR"):
        parse(level1(), Options())


# --- level 2: the SMSC's receipt ----------------------------------------------------------


def test_receiving_dlr_level_2_example() -> None:
    r = parse(level2(), RECEIVED)
    assert r == Receipt(provider="jasmin", message_id=ID, status=Status.DELIVERED, final=True,
                        provider_status="DELIVRD", event_time=parse_iso("2013-11-02T23:38:00Z"),
                        raw_time="1311022338")


@pytest.mark.parametrize(("word", "expected"), sorted(RECEIPT_WORDS.items()))
def test_every_receipt_word(word: str, expected: tuple[Status, bool]) -> None:
    r = parse(level2(word, err="001"), RECEIVED)
    assert ((r.status, r.final), r.provider_status, r.error_code, r.error_category) == (expected, word, "001", None)


def test_receipt_words_are_content_pys_seven_final_as_dlr_pys_final_states() -> None:
    assert set(RECEIPT_WORDS) == {"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"}
    # read as plain SMPP receipt text is
    assert all(SMPP_STATUSES[word] == expected for word, expected in RECEIPT_WORDS.items())
    final_states = {"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD"}
    assert {w for w, (_, final) in RECEIPT_WORDS.items() if final} == final_states | {"UNKNOWN"}  # FINAL_RANK
    for status, final in [*RECEIPT_WORDS.values(), *SUBMIT_WORDS.values()]:
        assert final or not is_final_everywhere(status)
    assert set(SUBMIT_WORDS) == {esme.OK, *esme.CODES}


def test_nd_fields_are_missing_ones() -> None:
    # operations.py isDeliveryReceipt: dlvrd, sub, sdate, ddate and err default to 'ND'
    r = parse(level2("EXPIRED", sub="ND", dlvrd="ND", subdate="ND", donedate="ND", err="ND"), RECEIVED)
    assert (r.status, r.error_code, r.event_time, r.raw_time) == (Status.EXPIRED, None, RECEIVED.received_at, None)
    assert r.warnings == ("donedate: missing; event time from the received time",)


@pytest.mark.parametrize(
    ("fields", "warnings", "event_time"),
    [
        ({"donedate": "1313022338"}, ("donedate: unreadable '1313022338'; event time from the received time",),
         "2026-03-10T12:00:00Z"),
        ({"donedate": None}, ("donedate: missing; event time from the received time",), "2026-03-10T12:00:00Z"),
        ({"subdate": "garbage"}, (), "2013-11-02T23:38:00Z"),  # only an ambiguous done date reads it
        ({"donedate": "131102233845"}, (), "2013-11-02T23:38:45Z"),  # with seconds, as some SMSCs send
        ({"level": None}, ("level: missing; the word says which",), "2013-11-02T23:38:00Z"),
        ({"level": "3"}, (), "2013-11-02T23:38:00Z"),  # the level asked for, as older releases sent it
        ({"level": "7"}, ("level: unknown '7', ignored",), "2013-11-02T23:38:00Z"),
        ({"level": "1"}, ("level: '1' but DELIVRD is a receipt word (level 2); read as the word says",),
         "2013-11-02T23:38:00Z"),
        ({"err": ""}, (), "2013-11-02T23:38:00Z"),
        ({"id_smsc": None, "connector": None, "text": None, "sub": None, "dlvrd": None}, (), "2013-11-02T23:38:00Z"),
    ],
)
def test_tolerated(fields: dict[str, str | None], warnings: tuple[str, ...], event_time: str) -> None:
    r = parse(level2(**fields), RECEIVED)
    assert (r.message_id, r.status, r.warnings, r.event_time) == (ID, Status.DELIVERED, warnings, parse_iso(event_time))


def test_the_level_2_table_of_receiving_dlr_rst_lists_a_submit_status_and_the_word_decides() -> None:
    # receiving-dlr.rst's level 2 table gives message_status "ESME_* SMPP Command status": read as what it is.
    r = parse(level2("ESME_ROK"), RECEIVED)
    assert (r.status, r.warnings) == (
        Status.SENT, ("level: '2' but ESME_ROK is a submit status (level 1); read as the word says",))


def test_donedate_is_read_in_the_zone_configured_for_jasmin() -> None:
    cet = Options(zones={"jasmin": dt.timezone(dt.timedelta(hours=1))})
    assert parse(level2(), cet).event_time == parse_iso("2013-11-02T22:38:00Z")
    assert parse(level2(), Options(zones={"smpp": dt.timezone(dt.timedelta(hours=1))})).event_time == parse_iso(
        "2013-11-02T23:38:00Z")


def test_an_ambiguous_donedate_is_read_nearest_the_subdate() -> None:
    # 201201121530: 2020-12-01 12:15:30 or 2012-01-12 15:30
    r = parse(level2(subdate="20120112150000", donedate="201201121530"), RECEIVED)
    assert r.event_time == parse_iso("2012-01-12T15:30:00Z")
    assert r.warnings == ("donedate: '201201121530' reads as YYMMDDhhmmss and as YYYYMMDDhhmm; "
                          "the reading nearest the submit date is taken",)


# --- strict: the id and the word ----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (level2(id=None), "missing field 'id'"),
        (level2(id="ND"), "missing field 'id'"),
        (level2(id="16fd2706 8baf"), "field 'id' is not one word"),
        (level2(message_status=None), "missing field 'message_status'"),
        (level2("ENROUTE"), "unknown jasmin status 'ENROUTE'"),  # content.py throws only table B-2's seven
        (level2("DELIVERED"), "unknown jasmin status 'DELIVERED'"),
        (level1("ESME_RNOTDEFINED"), "unknown jasmin status 'ESME_RNOTDEFINED'"),
        (b"", "empty receipt"),
        (b'{"id": "x"}', "invalid query string"),
    ],
)
def test_errors_say_why(payload: bytes, reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        parse(payload, RECEIVED)


def test_the_deployments_mappings_come_first() -> None:
    mapped = Options(received_at=RECEIVED.received_at, mappings=Mappings(
        statuses={"jasmin": {"enroute": (Status.SENT, False), "esme_rthrottled": (Status.REJECTED, True)}},
        errors={"jasmin": {"ESME_RTHROTTLED": (ErrorCategory.ROUTING, False), "005": (ErrorCategory.BARRED, None)}}))
    assert parse(level2("ENROUTE"), mapped).status == Status.SENT
    throttled = parse(level1("ESME_RTHROTTLED"), mapped)
    assert (throttled.status, throttled.final, throttled.error_category, throttled.retryable) == (
        Status.REJECTED, True, ErrorCategory.ROUTING, False)
    assert parse(level2("UNDELIV", err="005"), mapped).error_category == ErrorCategory.BARRED


def test_get_and_post_carry_the_same_fields() -> None:
    # throwers.py: params= for GET (the query), data= for POST (a form body): the same bytes reach the parser
    assert parse(level2(), RECEIVED) == parse(b"?" + level2(), RECEIVED)


# --- the record, the samples, the generator, arbitrary input --------------------------------


def test_the_route_answers_exactly_ack_jasmin() -> None:
    route = ROUTES["jasmin"]
    assert (route.path, route.methods, route.ok_status, route.ok_body, route.signer) == (
        "/dlr/jasmin", ("GET", "POST"), 200, "ACK/Jasmin", None)


def test_every_sample_parses_but_the_one_bad_line() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    assert 10 <= len(lines) <= 14
    bad: list[tuple[int, str]] = []
    receipts: list[Receipt] = []
    for number, line in enumerate(lines, 1):
        try:
            receipts.append(normalize("jasmin", line, RECEIVED))
        except ReceiptError as exc:
            bad.append((number, str(exc)))
    assert bad == [(len(lines), "unknown jasmin status 'ENROUTE'")]
    assert len(lines) - len(set(lines)) == 1
    assert any(a.message_key == b.message_key and a.final and not b.final
               for i, a in enumerate(receipts) for b in receipts[i + 1:])
    assert {r.status for r in receipts} >= {Status.SENT, Status.QUEUED, Status.REJECTED, Status.DELIVERED,
                                            Status.UNDELIVERED, Status.EXPIRED, Status.ACCEPTED}


def test_generated_lifecycles_parse_without_warnings() -> None:
    for n, steps in enumerate(PROVIDER.lifecycles):
        for step in steps:
            word, _, code = step.partition(":")
            r = parse(PROVIDER.generate(n, word, code or None, generate.BASE), RECEIVED)
            assert (r.provider_status, r.warnings, r.message_id[-12:]) == (word, (), f"{n:012d}")
            assert r.error_code == (code or None)
    for g in generate.receipts(40, providers=["jasmin"], seed=3):
        assert normalize("jasmin", g.payload, RECEIVED).provider == "jasmin"


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_receipt_or_a_reason(payload: bytes) -> None:
    try:
        assert isinstance(parse(payload, RECEIVED), Receipt)
    except ReceiptError as exc:
        assert str(exc)


FIELDS = ["id", "level", "message_status", "connector", "id_smsc", "sub", "dlvrd", "subdate", "donedate", "err",
          "text"]
VALUES = st.sampled_from([*RECEIPT_WORDS, esme.OK, "ESME_RTHROTTLED", "ND", "", " ", "1", "2", "3", ID,
                          "1311022338", "201201121530", "2613100902", "000", "x y"])


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES | st.text(max_size=30)), st.booleans())
def test_arbitrary_fields_give_a_receipt_or_a_reason(fields: dict[str, str], received: bool) -> None:
    with contextlib.suppress(ReceiptError):
        r = parse(urlencode(fields).encode(), RECEIVED if received else Options())
        assert r.final or not is_final_everywhere(r.status)
        assert (r.message_id, r.provider_status) == (fields["id"].strip(), fields["message_status"].strip().upper())
        assert all(w.partition(":")[0] in FIELDS for w in r.warnings)
