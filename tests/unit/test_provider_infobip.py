"""Infobip delivery reports: batches of reports (one receipt or error each),
status groups and the names that differ from them, error ids and `permanent`,
times, prices, the sample file, arbitrary input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.mappings import Mappings
from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, parse_iso
from streams.core.providers import Options, normalize, normalize_all
from streams.core.providers.infobip import generate
from streams.core.providers.infobip.parse import GROUPS, parse, parse_all

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "core" / "providers" / "infobip" / "samples.txt"
RECEIVED = Options(received_at=parse_iso("2026-03-10T12:00:00Z"))
DROP = object()


def report(**fields: Any) -> dict[str, Any]:
    """One report as Infobip's "Receive outbound SMS message report" documents
    its example (infobip.com/docs/api/channels/sms/sms-messaging/logs-and-status-reports/
    receive-outbound-sms-message-report): the same fields and value shapes."""
    base: dict[str, Any] = {
        "bulkId": "BULK-ID-123-xyz", "messageId": "MESSAGE-ID-123-xyz", "to": "41793026727",
        "sentAt": "2019-11-09T16:00:00.000+0000", "doneAt": "2019-11-09T16:00:00.000+0000",
        "smsCount": 1, "mccMnc": "22801", "callbackData": "callbackData",
        "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET",
                   "description": "Message delivered to handset"},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error",
                  "permanent": False},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not DROP}


def post(*reports: dict[str, Any]) -> bytes:
    return json.dumps({"results": list(reports)}).encode()


def test_documented_example() -> None:
    receipt = parse(post(report()), RECEIVED)
    assert receipt == Receipt(
        provider="infobip", message_id="MESSAGE-ID-123-xyz", status=Status.DELIVERED, final=True,
        provider_status="DELIVERED_TO_HANDSET", event_time=parse_iso("2019-11-09T16:00:00Z"),
        reference="callbackData", price="0.01", raw_time="2019-11-09T16:00:00.000+0000",
    )


@pytest.mark.parametrize(("group", "expected"), sorted(GROUPS.items()))
def test_every_group(group: str, expected: tuple[Status, bool]) -> None:
    status = {"groupId": 1, "groupName": group, "id": 99, "name": f"{group}_SOMETHING"}
    receipt = parse(post(report(status=status)), RECEIVED)
    assert (receipt.status, receipt.final, receipt.provider_status) == (*expected, f"{group}_SOMETHING")


def test_delivered_to_operator_is_not_a_handset_delivery() -> None:
    # "Message status codes": DELIVERED_TO_OPERATOR (id 2) is intermediate; a further DLR may follow.
    status = {"groupId": 3, "groupName": "DELIVERED", "id": 2, "name": "DELIVERED_TO_OPERATOR"}
    receipt = parse(post(report(status=status)), RECEIVED)
    assert (receipt.status, receipt.final) == (Status.ACCEPTED, False)


def test_a_post_of_several_reports_and_a_repeated_message_id() -> None:
    operator = report(status={"groupId": 3, "groupName": "DELIVERED", "id": 2, "name": "DELIVERED_TO_OPERATOR"},
                      doneAt="2019-11-09T16:00:00.000+0000")
    handset = report(doneAt="2019-11-09T16:00:05.000+0000")
    other = report(messageId="MESSAGE-ID-124-xyz",
                   status={"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"},
                   error={"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 1, "name": "EC_UNKNOWN_SUBSCRIBER",
                          "permanent": True})
    results = parse_all(post(operator, handset, other), RECEIVED)
    assert [(r.message_id, r.status) for r in results if isinstance(r, Receipt)] == [
        ("MESSAGE-ID-123-xyz", Status.ACCEPTED), ("MESSAGE-ID-123-xyz", Status.DELIVERED),
        ("MESSAGE-ID-124-xyz", Status.UNDELIVERED)]
    failed = results[2]
    assert isinstance(failed, Receipt)
    assert (failed.error_code, failed.error_category, failed.retryable) == ("1", ErrorCategory.INVALID_NUMBER, False)


def test_a_bad_report_costs_only_itself() -> None:
    results = normalize_all("infobip", post(report(), report(messageId=None), report(status="DELIVERED"),
                                            report(status={"groupName": "LOST", "name": "LOST_IN_SPACE"})), RECEIVED)
    assert isinstance(results[0], Receipt)
    assert [str(r) for r in results[1:]] == [
        "report 2 of 4: missing field 'messageId'",
        "report 3 of 4: missing field 'status' (an object)",
        "report 4 of 4: unknown infobip status 'LOST_IN_SPACE' in group 'LOST'",
    ]


def test_parse_reads_a_post_of_one_and_refuses_a_batch() -> None:
    assert normalize("infobip", post(report()), RECEIVED).message_id == "MESSAGE-ID-123-xyz"
    with pytest.raises(ReceiptError, match="holds 2 reports, not one"):
        parse(post(report(), report()), RECEIVED)


def test_permanent_decides_retryable_and_unknown_errors_are_kept() -> None:
    error = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": True}
    receipt = parse(post(report(error=error)), RECEIVED)
    assert (receipt.error_category, receipt.retryable) == (ErrorCategory.UNREACHABLE, False)
    odd = {"groupId": 3, "groupName": "OPERATOR_ERRORS", "id": 4242, "name": "EC_SOMETHING_NEW", "permanent": False}
    receipt = parse(post(report(error=odd)), RECEIVED)
    assert (receipt.error_code, receipt.error_category, receipt.retryable) == ("4242", None, True)
    assert receipt.warnings == ("error code: unknown '4242', kept without a category",)


@pytest.mark.parametrize(
    ("fields", "warnings", "event_time"),
    [
        ({"doneAt": DROP}, ("doneAt: missing; event time from sentAt",), "2019-11-09T16:00:00Z"),
        ({"doneAt": "soon", "sentAt": DROP}, ("doneAt: unreadable 'soon'; event time from the received time",),
         "2026-03-10T12:00:00Z"),
        ({"price": "0.01"}, ("price: not an object '0.01', ignored",), "2019-11-09T16:00:00Z"),
        ({"price": {"pricePerMessage": "nan"}}, ("pricePerMessage: not a decimal 'nan', ignored",),
         "2019-11-09T16:00:00Z"),
        ({"error": "bad"}, ("error: not an object 'bad', ignored",), "2019-11-09T16:00:00Z"),
        ({"callbackData": {"a": 1}}, ("callbackData: not text {'a': 1}, ignored",), "2019-11-09T16:00:00Z"),
    ],
)
def test_tolerated(fields: dict[str, Any], warnings: tuple[str, ...], event_time: str) -> None:
    receipt = parse(post(report(**fields)), RECEIVED)
    assert (receipt.status, receipt.warnings, receipt.event_time) == (Status.DELIVERED, warnings, parse_iso(event_time))


def test_a_mapping_overrides_a_name() -> None:
    mapped = Options(mappings=Mappings(statuses={"infobip": {"delivered_to_operator": (Status.DELIVERED, True)}}))
    status = {"groupId": 3, "groupName": "DELIVERED", "id": 2, "name": "DELIVERED_TO_OPERATOR"}
    assert parse(post(report(status=status)), mapped).status is Status.DELIVERED


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty receipt"),
        (b"[]", "JSON receipt is a list"),
        (b'{"results": {}}', "no 'results' list"),
        (b'{"results": []}', "empty 'results' list"),
        (b'{"results": [1]}', "a int, not an object"),
    ],
)
def test_errors(payload: bytes, reason: str) -> None:
    results = normalize_all("infobip", payload, RECEIVED)
    assert len(results) == 1 and isinstance(results[0], ReceiptError)
    assert reason in str(results[0])


def test_generated_lifecycles_parse() -> None:
    import datetime as dt

    when = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    for n, steps in enumerate(generate.LIFECYCLES):
        for step in steps:
            word, _, code = step.partition(":")
            receipt = parse(generate.receipt(n, word, code or None, when), RECEIVED)
            assert (receipt.provider_status, receipt.error_code, receipt.warnings) == (word, code or None, ())
            assert receipt.error_category is not None or not code


def test_sample_lines_all_parse_but_the_one_cut_short() -> None:
    lines = SAMPLES.read_bytes().splitlines()
    results = [normalize_all("infobip", line, RECEIVED) for line in lines]
    bad = [n for n, rs in enumerate(results, 1) if any(isinstance(r, ReceiptError) for r in rs)]
    assert bad == [len(lines)]
    assert sum(len(rs) for rs in results[:-1]) > len(lines) - 1  # some lines are batches


@given(st.binary(max_size=400))
def test_arbitrary_bytes(payload: bytes) -> None:
    for result in normalize_all("infobip", payload, RECEIVED):
        assert isinstance(result, (Receipt, ReceiptError))


_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                       | st.sampled_from(["DELIVERED", "PENDING_ENROUTE", "2019-11-09T16:00:00.000+0000"]),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                           st.sampled_from(["groupName", "name", "id", "permanent", "pricePerMessage"]), inner,
                           max_size=4), max_leaves=8)


@given(st.lists(st.dictionaries(st.sampled_from(["messageId", "status", "error", "doneAt", "sentAt", "price",
                                                 "callbackData"]), _VALUES, max_size=7), max_size=4))
def test_arbitrary_reports(reports: list[dict[str, Any]]) -> None:
    with contextlib.suppress(ReceiptError):
        for result in parse_all(post(*reports), RECEIVED):
            assert isinstance(result, (Receipt, ReceiptError))
