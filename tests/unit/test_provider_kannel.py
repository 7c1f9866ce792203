"""Kannel's dlr-url callback: report types, the reply's SMPP receipt text and
NACK reasons, the message id, times, and what is tolerated.

Sources of the examples: the Kannel user guide (1.4.x: the dlr-mask values,
the escape codes, the Delivery Reports chapter's `type=%d` example) and
Kannel's source (github.com/pruiz/kannel: gw/bb_smscconn.c writes "ACK/" and
"NACK/<reason>", gw/smsc/smsc_smpp.c "0x%08lx/%s" for a refused submit and
which stat word gives which type in handle_dlr; Kannel 1.6.1's gw/dlr.h for
34 and 66)."""

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
from streams.core.providers.kannel import PROVIDER
from streams.core.providers.kannel.parse import REFINES, TYPES, parse
from streams.core.providers.smpp.parse import STATUSES as SMPP_STATUSES
from streams.worker.webhooks.routes import ROUTES

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "core" / "providers" / "kannel" / "samples.txt"
RECEIVED = Options(received_at=parse_iso("2026-03-10T12:00:00Z"))
KANNEL_ID = "5c1f0e2a-9b7d-4e3c-a816-2d4f6b8e0a13"  # %I: uuid_unparse, gw/urltrans.c
TS = "1773133322"  # %T of the report: 2026-03-10T09:02:02Z


def text(stat: str = "DELIVRD", *, done: str = "2603100902", err: str = "000", id_: str = "3f9a1c07") -> str:
    return (f"id:{id_} sub:001 dlvrd:001 submit date:2603100900 done date:{done} stat:{stat} err:{err} "
            f"text:Your code is 4821")


def callback(type_: str = "1", reply: str | None = None, /, **fields: str | None) -> bytes:
    """The query Kannel fetches for the documented template
    type=%d&reply=%A&fid=%F&id=%I&to=%p&ts=%T&smsc=%i, URL-encoded as gw/urltrans.c does
    (space as '+', the rest as %XX)."""
    values: dict[str, str | None] = {
        "type": type_, "reply": text() if reply is None else reply, "fid": "3f9a1c07", "id": KANNEL_ID,
        "to": "4512340001", "ts": TS, "smsc": "smsc-a",
    }
    values.update(fields)
    return urlencode({k: v for k, v in values.items() if v is not None}).encode()


def read(type_: str = "1", reply: str | None = None, options: Options = RECEIVED, **fields: str | None) -> Receipt:
    return parse(callback(type_, reply, **fields), options)


# --- the types (user guide dlr-mask; gw/dlr.h) --------------------------------------------


@pytest.mark.parametrize(
    ("type_", "status", "final"),
    [
        ("1", Status.DELIVERED, True),  # "1: Delivered to phone"
        ("2", Status.UNDELIVERED, True),  # "2: Non-Delivered to Phone"
        ("4", Status.QUEUED, False),  # "4: Queued on SMSC": DLR_IS_NOT_FINAL
        ("8", Status.SENT, False),  # "8: Delivered to SMSC": DLR_IS_NOT_FINAL
        ("16", Status.REJECTED, True),  # "16: Non-Delivered to SMSC"
        ("34", Status.EXPIRED, True),  # Kannel 1.6 gw/dlr.h: DLR_EXPIRED 0x20|DLR_FAIL
        ("66", Status.UNKNOWN, True),  # Kannel 1.6 gw/dlr.h: DLR_UNKNOWN 0x40|DLR_FAIL
    ],
)
def test_every_type_without_a_reply(type_: str, status: Status, final: bool) -> None:
    r = read(type_, "")
    assert (r.status, r.final, r.provider_status) == (status, final, type_)
    assert (r.event_time, r.raw_time, r.warnings) == (parse_iso("2026-03-10T09:02:02Z"), TS, ())
    assert TYPES[type_] == (status, final)


def test_tables_are_consistent() -> None:
    for status, final in TYPES.values():
        assert final or not is_final_everywhere(status)
    assert set(REFINES) <= set(TYPES)
    for type_, allowed in REFINES.items():
        # the type's own status is among those its stat words may give, and each is as final as the type
        assert TYPES[type_][0] in allowed
        assert {final for status, final in SMPP_STATUSES.values() if status in allowed} == {TYPES[type_][1]}


def test_user_guides_delivery_report_example() -> None:
    # User guide, "Delivery Reports": dlr-mask=7, dlr-url=http://www.xyz.com/cgi/dlr.php?myId=123456&type=%d;
    # Kannel calls ...&type=4 (buffered), then ...&type=1 (final success). That URL names no message for
    # us: it is refused with the reason; in the documented template the same reports read as they say.
    with pytest.raises(ReceiptError, match="missing field 'fid'"):
        parse(b"myId=123456&type=4", RECEIVED)
    buffered, delivered = read("4", "", ref="123456"), read("1", "", ref="123456")
    assert (buffered.status, buffered.final, delivered.status, delivered.final) == (
        Status.QUEUED, False, Status.DELIVERED, True)
    assert buffered.message_key == delivered.message_key == "kannel:smsc-a/3f9a1c07"
    assert delivered.reference == "123456"


# --- the reply: SMPP receipt text (gw/smsc/smsc_smpp.c handle_dlr) ---------------------------


@pytest.mark.parametrize(
    ("type_", "stat", "status", "final"),
    [
        ("1", "DELIVRD", Status.DELIVERED, True),
        # handle_dlr: "DELIVRD" is 1; ACCEPTD, ACKED, BUFFRED, BUFFERD, ENROUTE are 4; any other word 2.
        ("4", "ENROUTE", Status.SENT, False),
        ("4", "ACCEPTD", Status.ACCEPTED, False),
        ("4", "ACKED", Status.SENT, False),
        ("4", "BUFFRED", Status.QUEUED, False),
        ("4", "BUFFERD", Status.QUEUED, False),
        ("2", "UNDELIV", Status.UNDELIVERED, True),
        ("2", "EXPIRED", Status.EXPIRED, True),
        ("2", "DELETED", Status.CANCELLED, True),
        ("2", "REJECTD", Status.REJECTED, True),
        ("2", "UNKNOWN", Status.UNKNOWN, True),
        ("34", "EXPIRED", Status.EXPIRED, True),  # 1.6: message_state EXPIRED is 34
    ],
)
def test_the_stat_word_says_which_status_of_the_type(type_: str, stat: str, status: Status, final: bool) -> None:
    r = read(type_, text(stat, err="000" if type_ in "14" else "001"))
    assert (r.status, r.final, r.provider_status, r.warnings) == (status, final, f"{type_}/{stat}", ())
    assert r.event_time == parse_iso("2026-03-10T09:02:00Z") and r.raw_time == "2603100902"  # the done date
    assert r.error_code == (None if type_ in "14" else "001") and r.error_category is None  # SMSC's own err


def test_a_full_receipt() -> None:
    r = read("2", text("UNDELIV", err="001", done="260310091731"), ref="order-7731")
    assert r == Receipt(
        provider="kannel", message_id="smsc-a/3f9a1c07", status=Status.UNDELIVERED, final=True,
        provider_status="2/UNDELIV", event_time=parse_iso("2026-03-10T09:17:31Z"), error_code="001",
        reference="order-7731", raw_time="260310091731",
    )


@pytest.mark.parametrize(
    ("type_", "stat", "status", "warning"),
    [
        # A stat word of another type: Kannel's type decides (it got the message_state TLV, or a word
        # it files otherwise, as SCHEDLD under failures); the word is noted.
        ("1", "UNDELIV", Status.DELIVERED, "stat: 'UNDELIV' is UNDELIVERED, not a type 1 status; status from type 1"),
        ("2", "SCHEDLD", Status.UNDELIVERED,
         "stat: 'SCHEDLD' is SCHEDULED, not a type 2 status; status from type 2"),
        ("2", "DND_REJECTED", Status.UNDELIVERED, "stat: unknown 'DND_REJECTED'; status from type 2"),
        ("66", "EXPIRED", Status.UNKNOWN, "stat: 'EXPIRED' is EXPIRED, not a type 66 status; status from type 66"),
    ],
)
def test_a_stat_word_never_overrules_the_type(type_: str, stat: str, status: Status, warning: str) -> None:
    r = read(type_, text(stat))
    assert (r.status, r.provider_status, r.warnings) == (status, f"{type_}/{stat}", (warning,))


def test_the_deployments_mappings_read_a_vendor_stat_word_and_a_type() -> None:
    mapped = Options(received_at=RECEIVED.received_at, mappings=Mappings(statuses={"kannel": {
        "dnd_rejected": (Status.REJECTED, True), "32": (Status.SENT, False)}}))
    r = read("2", text("DND_REJECTED", err="123"), mapped)
    assert (r.status, r.final, r.provider_status, r.error_code, r.warnings) == (
        Status.REJECTED, True, "2/DND_REJECTED", "123", ())
    with pytest.raises(ReceiptError, match="unknown kannel status '32'"):  # 1.4's DLR_INTERMEDIATE
        read("32", "")
    assert read("32", "", mapped).status == Status.SENT


@pytest.mark.parametrize(
    ("reply", "warning"),
    [
        ("0x0000000b/Invalid Destination Address", "reply: not SMPP receipt text (not SMPP receipt text: no 'id:' or "
                                                   "'stat:' field) '0x0000000b/Invalid Destination Address', ignored"),
        ("sub:001 dlvrd:001 stat:DELIVRD", "reply: not SMPP receipt text (missing field 'id') "
                                           "'sub:001 dlvrd:001 stat:DELIVRD', ignored"),
    ],
)
def test_a_reply_that_is_no_receipt_text_is_noted_and_the_type_read(reply: str, warning: str) -> None:
    r = read("1", reply)
    assert (r.status, r.provider_status, r.raw_time, r.warnings) == (Status.DELIVERED, "1", TS, (warning,))


def test_receipt_text_tolerances_come_through_named() -> None:
    # opentelecoms-org/jsmpp DeliveryReceiptParserTest.parseWithNoTextAttribute, as Kannel would pass it in %A.
    reply = ("id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 "
             "stat:DELIVRD err:000 testing jsmpp bow")
    r = read("1", reply, fid="0123456789")
    assert (r.status, r.event_time, r.warnings) == (
        Status.DELIVERED, parse_iso("2008-09-01T11:31:00Z"), ("err: trailing 'testing jsmpp bow' ignored",))


# --- SMSC ack and reject (gw/bb_smscconn.c, gw/smsc/smsc_smpp.c) -----------------------------


def test_an_smsc_ack() -> None:
    r = read("8", "ACK/")
    assert (r.status, r.final, r.provider_status, r.message_key) == (Status.SENT, False, "8", "kannel:smsc-a/3f9a1c07")
    assert (r.error_code, r.event_time, r.raw_time, r.warnings) == (None, parse_iso("2026-03-10T09:02:02Z"), TS, ())


def test_an_smsc_reject_is_keyed_by_kannels_id() -> None:
    # smsc_smpp.c: bb_smscconn_send_failed(..., octstr_format("0x%08lx/%s", command_status,
    # smpp_error_to_string(command_status))); bb_smscconn.c prefixes "NACK/". No %F: the SMSC gave no id.
    r = read("16", "NACK/0x0000000b/Invalid Destination Address", fid="", ref="order-7733")
    assert r == Receipt(
        provider="kannel", message_id=f"I:{KANNEL_ID}", status=Status.REJECTED, final=True, provider_status="16",
        event_time=parse_iso("2026-03-10T09:02:02Z"), error_code="0x0000000b",
        error_category=ErrorCategory.INVALID_NUMBER, retryable=False, reference="order-7733", raw_time=TS,
    )


def test_an_smsc_ack_without_a_foreign_id_is_keyed_by_kannels_id_too() -> None:
    # dlr-mask 8 alone: smsc_smpp.c calls dlr_add (which sets the foreign id) only for handset reports.
    assert read("8", "ACK/", fid=None, id=KANNEL_ID.upper()).message_id == f"I:{KANNEL_ID}"


@pytest.mark.parametrize(
    ("reply", "code", "category", "warnings"),
    [
        ("NACK/0x00000058/Throttling error", "0x00000058", ErrorCategory.THROTTLED, ()),
        ("NACK/0x00000401/Vendor specific error", "0x00000401", None, ()),  # SMPP's vendor range: nobody's table
        ("NACK/0x00000009/Reserved", "0x00000009", None,
         ("error code: unknown '0x00000009', kept without a category",)),
        ("NACK/0X0000000B", "0x0000000b", ErrorCategory.INVALID_NUMBER, ()),
        ("NACK/", None, None, ()),  # a reject without a reason
        # bb_smscconn.c: Kannel's own reasons, as "Retries Exceeded" when it gives up
        ("NACK/Retries Exceeded", None, None,
         ("reply: no SMPP command_status in 'NACK/Retries Exceeded', no error code",)),
    ],
)
def test_a_rejects_reason(reply: str, code: str | None, category: ErrorCategory | None,
                          warnings: tuple[str, ...]) -> None:
    r = read("16", reply, fid="")
    assert (r.status, r.error_code, r.error_category, r.warnings) == (Status.REJECTED, code, category, warnings)


def test_an_ack_reply_of_another_form_is_noted() -> None:
    assert read("8", "OK").warnings == ("reply: not Kannel's 'ACK/' 'OK', ignored",)


# --- the message id -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"smsc": None}, "missing field 'smsc': a foreign id is unique only per SMSC"),
        ({"smsc": " "}, "missing field 'smsc'"),
        ({"fid": None}, "missing field 'fid': a type 1 report always has one"),
        ({"fid": "3f9a 1c07"}, "field 'fid' is not one word"),
        ({"type": None}, "missing field 'type'"),
        ({"type": "0"}, "unknown kannel status '0'"),
        ({"type": "3"}, "unknown kannel status '3'"),  # a mask, never a report's type
        ({"type": "16", "fid": "", "id": None}, "type 16 without fid or id: nothing to key it by"),
        ({"type": "16", "fid": "", "id": "42"}, "field 'id' is not Kannel's id"),
    ],
)
def test_what_decides_the_outcome_or_the_key_is_strict(fields: dict[str, str | None], reason: str) -> None:
    with pytest.raises(ReceiptError, match=reason):
        parse(callback(**fields), RECEIVED)  # "type" among them replaces the default


def test_the_foreign_id_keys_a_message_per_smsc() -> None:
    a, b = read("1", fid="1001", smsc="operator-a"), read("1", fid="1001", smsc="operator-b")
    assert (a.message_key, b.message_key) == ("kannel:operator-a/1001", "kannel:operator-b/1001")
    # the receipt text's own id is the SMSC's, possibly in another base (smsc_smpp.c smpp_msg_id_type):
    # the foreign id Kannel matched the report by is the one kept
    assert read("1", text(id_="3E9"), fid="1001").message_id == "smsc-a/1001"


def test_the_phone_number_is_never_kept() -> None:
    assert "4512340001" not in repr(read("2", text("UNDELIV")))


# --- times ----------------------------------------------------------------------------------


def test_times_fall_back_done_date_then_ts_then_the_received_time() -> None:
    unreadable = read("1", text(done="2613100902"))
    assert (unreadable.event_time, unreadable.raw_time, unreadable.warnings) == (
        parse_iso("2026-03-10T09:02:02Z"), TS, ("done date: unreadable '2613100902'; event time from ts",))
    missing = read("1", text().replace(" done date:2603100902", ""))
    assert missing.warnings == ("done date: missing; event time from ts",)
    neither = read("1", text(done="2613100902"), ts="soon")
    assert (neither.event_time, neither.raw_time, neither.warnings) == (RECEIVED.received_at, None, (
        "ts: unreadable 'soon', ignored", "done date: unreadable '2613100902'; event time from the received time"))
    no_ts = read("1", text(done="2613100902"), ts=None)
    assert no_ts.warnings == ("done date: unreadable '2613100902'; event time from the received time",)
    ack = read("8", "ACK/", ts="")
    assert (ack.event_time, ack.warnings) == (RECEIVED.received_at, ("ts: missing; event time from the received time",))
    with pytest.raises(ReceiptError, match="ts missing, and no received time"):
        read("8", "ACK/", Options(), ts="")


def test_the_done_date_is_read_in_the_zone_configured_for_kannel() -> None:
    cet = Options(zones={"kannel": dt.timezone(dt.timedelta(hours=1))})
    assert read("1", options=cet).event_time == parse_iso("2026-03-10T08:02:00Z")
    assert read("8", "ACK/", cet).event_time == parse_iso("2026-03-10T09:02:02Z")  # %T is UTC whatever the zone
    other = Options(zones={"smpp": dt.timezone(dt.timedelta(hours=1))})
    assert read("1", options=other).event_time == parse_iso("2026-03-10T09:02:00Z")


def test_an_ambiguous_done_date_is_read_nearest_the_submit_date() -> None:
    r = read("1", text(done="260310091731").replace("2603100900", "260310091500"))
    assert (r.event_time, r.warnings) == (parse_iso("2026-03-10T09:17:31Z"), ())


# --- the record, the samples, the generator, arbitrary input --------------------------------


def test_the_route_is_a_get_answered_with_a_plain_200() -> None:
    route = ROUTES["kannel"]
    assert (route.path, route.methods, route.ok_status, route.ok_body, route.signer) == (
        "/dlr/kannel", ("GET",), 200, "", None)


def test_every_sample_parses_but_the_one_bad_line() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    assert 10 <= len(lines) <= 14
    bad: list[tuple[int, str]] = []
    receipts: list[Receipt] = []
    for number, line in enumerate(lines, 1):
        try:
            receipts.append(normalize("kannel", line, RECEIVED))
        except ReceiptError as exc:
            bad.append((number, str(exc)))
    assert bad == [(len(lines), "unknown kannel status '32'")]
    assert len(lines) - len(set(lines)) == 1  # one duplicate
    assert any(a.message_key == b.message_key and a.final and not b.final
               for i, a in enumerate(receipts) for b in receipts[i + 1:])  # a final ahead of a transient
    assert {r.provider_status.partition("/")[0] for r in receipts} == {"1", "2", "4", "8", "16", "34"}
    assert any(r.message_id.startswith("I:") for r in receipts)
    assert all(not r.warnings for r in receipts)


def test_generated_lifecycles_parse_without_warnings() -> None:
    for n, steps in enumerate(PROVIDER.lifecycles):
        for step in steps:
            word, _, code = step.partition(":")
            r = parse(PROVIDER.generate(n, word, code or None, generate.BASE), Options())
            assert (r.provider_status, r.warnings, r.message_id) == (word, (), f"smsc-a/{n:012d}")
            assert r.error_code == (code or None)
    for g in generate.receipts(40, providers=["kannel"], seed=3):
        assert normalize("kannel", g.payload).provider == "kannel"


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_receipt_or_a_reason(payload: bytes) -> None:
    try:
        assert isinstance(parse(payload, RECEIVED), Receipt)
    except ReceiptError as exc:
        assert str(exc)


VALUES = st.sampled_from([*TYPES, "3", "32", "", " ", "ACK/", "NACK/", "NACK/0x0000000b/Invalid Dest", text(),
                          text("EXPIRED"), text("FOO"), text(done="2613100902"), KANNEL_ID, "1773133322", "x y"])


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(["type", "reply", "fid", "id", "to", "ts", "smsc", "ref"]),
                       VALUES | st.text(max_size=30)), st.booleans())
def test_arbitrary_fields_give_a_receipt_or_a_reason(fields: dict[str, str], received: bool) -> None:
    with contextlib.suppress(ReceiptError):
        r = parse(urlencode(fields).encode(), RECEIVED if received else Options())
        assert r.final or not is_final_everywhere(r.status)
        assert r.provider_status.partition("/")[0] == fields["type"].strip()
        assert all(w.partition(":")[0] for w in r.warnings)
