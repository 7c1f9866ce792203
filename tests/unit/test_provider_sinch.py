"""Sinch SMS REST API delivery reports: every status and its final, the codes,
the message id `<batch_id>:<recipient>`, the times and their fallbacks, what is
tolerated (each named in warnings) and what is still a dead letter (a batch
report above all), the deployment's overrides, the sample file, the generator;
and x-sinch-webhook-signature, from the test vector of Sinch's own SDK."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import settings as dlr_settings
from streams.core import generate, samples
from streams.core.mappings import Mappings
from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, is_final_everywhere, micros, parse_iso
from streams.core.providers import Options
from streams.core.providers._http import Incoming, SignatureError
from streams.core.providers.sinch import parse as sinch
from streams.core.providers.sinch import webhook
from streams.worker.webhooks import receive
from streams.worker.webhooks.receive import WebhookConfig
from streams.worker.webhooks.routes import ROUTES
from tests.budget import examples

RECEIVED = micros(dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.UTC))
OPTS = Options(received_at=RECEIVED)
BATCH = "01GBA2C1PTBEA4A8HR8TYZ4S0Y"
RECIPIENT = "+447700900101"
MID = f"{BATCH}:{RECIPIENT}"


def fields(**changes: Any) -> dict[str, Any]:
    """A recipient delivery report as Sinch's API reference describes it ("Delivery
    reports"; RecipientDeliveryReport); None leaves a field out."""
    base: dict[str, Any] = {
        "at": "2026-03-12T09:14:09.930Z", "batch_id": BATCH, "client_reference": "order-88412", "code": 0,
        "operator_status_at": "2026-03-12T09:14:08Z", "recipient": RECIPIENT, "status": "Delivered",
        "type": "recipient_delivery_report_sms",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def post(**changes: Any) -> bytes:
    return json.dumps(fields(**changes)).encode()


def reason(payload: bytes, options: Options = OPTS) -> str:
    with pytest.raises(ReceiptError) as caught:
        sinch.parse(payload, options)
    return str(caught.value)


# "Delivery report statuses" (Intermediate or Final), https://developers.sinch.com/docs/sms/
# api-reference/sms/tag/Delivery-reports/: (Status, final).
STATUSES = {
    "Queued": (Status.QUEUED, False),
    "Dispatched": (Status.SENT, False),
    "Aborted": (Status.REJECTED, True),
    "Cancelled": (Status.CANCELLED, True),
    "Rejected": (Status.REJECTED, True),
    "Deleted": (Status.CANCELLED, True),
    "Delivered": (Status.DELIVERED, True),
    "Failed": (Status.UNDELIVERED, True),
    "Expired": (Status.EXPIRED, True),
    "Unknown": (Status.UNKNOWN, True),
}
# "Delivery report error codes" (the REST API's own codes): (category, retryable).
ERRORS = {
    402: (ErrorCategory.ROUTING, False),  # Message unroutable
    403: (ErrorCategory.GENERIC, False),  # Internal error
    404: (ErrorCategory.NETWORK, True),  # Temporary delivery failure: "can be retried"
    405: (ErrorCategory.INVALID_MESSAGE, False),  # Unmatched Parameter
    406: (ErrorCategory.EXPIRED, True),  # Internal Expiry
    408: (ErrorCategory.GENERIC, False),  # Internal Reject: "Retrying is likely to cause the same error"
    410: (ErrorCategory.SENDER_REJECTED, False),  # Unmatched default originator
    411: (ErrorCategory.INVALID_MESSAGE, False),  # Exceeded parts limit
    412: (ErrorCategory.ROUTING, False),  # Unprovisioned region
    413: (ErrorCategory.ACCOUNT_FUNDS, True),  # Blocked: "Potentially out of credits"
    414: (ErrorCategory.INVALID_MESSAGE, False),  # Bad Media (MMS)
    415: (ErrorCategory.GENERIC, False),  # rejected by MMS gateway or mobile network (MMS)
    416: (ErrorCategory.INVALID_MESSAGE, False),  # not supported (MMS)
    417: (ErrorCategory.UNREACHABLE, True),  # network or subscriber cannot be reached (MMS)
    418: (ErrorCategory.INVALID_MESSAGE, False),  # content not recognized (MMS)
}


def test_tables_are_exactly_the_documented_vocabularies() -> None:
    assert {sinch.SPELLING[w] for w in sinch.STATUSES} == set(STATUSES)
    assert set(sinch.ERRORS) | sinch.NOT_ERRORS == {str(c) for c in [*ERRORS, 0, 400, 401, 407]}


def test_statuses_ranked_final_are_final() -> None:
    for state, final in sinch.STATUSES.values():
        assert final or not is_final_everywhere(state)


@pytest.mark.parametrize("word", [*STATUSES, "DELIVERED", "dispatched"])
def test_every_status(word: str) -> None:
    r = sinch.parse(post(status=word, code=None), OPTS)
    spelled = word.capitalize()
    assert (r.status, r.final, r.provider_status) == (*STATUSES[spelled], spelled)
    assert (r.provider, r.message_id, r.reference) == ("sinch", MID, "order-88412")


@pytest.mark.parametrize("code", list(ERRORS))
def test_every_code(code: int) -> None:
    r = sinch.parse(post(status="Failed", code=code), OPTS)
    assert (r.error_code, r.error_category, r.retryable, r.warnings) == (str(code), *ERRORS[code], ())


@pytest.mark.parametrize(("word", "code"), [("Delivered", 0), ("Queued", 400), ("Dispatched", 401),
                                            ("Cancelled", 407), ("Delivered", "0"), ("Delivered", None)])
def test_codes_that_restate_a_status_are_no_error(word: str, code: object) -> None:
    r = sinch.parse(post(status=word, code=code), OPTS)
    assert (r.error_code, r.error_category, r.retryable, r.warnings) == (None, None, None, ())


def test_sinchs_example_reports() -> None:
    # In the shape of the recipient delivery report in Sinch's API reference ("Delivery
    # reports", and its callback in "Webhooks"): Dispatched carries code 401 and no
    # operator_status_at, so `at` is the event time.
    dispatched = (b'{"type":"recipient_delivery_report_sms","batch_id":"01FC66621XXXXX119Z8PMV1QPQ",'
                  b'"recipient":"+44231235674","code":401,"status":"Dispatched","at":"2022-08-30T08:16:08.930Z"}')
    assert sinch.parse(dispatched, Options()) == Receipt(
        provider="sinch", message_id="01FC66621XXXXX119Z8PMV1QPQ:+44231235674", status=Status.SENT, final=False,
        provider_status="Dispatched", event_time=parse_iso("2022-08-30T08:16:08.930Z"),
        raw_time="2022-08-30T08:16:08.930Z",
    )
    delivered = (b'{"at":"2022-08-30T08:16:09.930Z","batch_id":"01FC66621XXXXX119Z8PMV1QPQ",'
                 b'"client_reference":"a client reference","code":0,"operator_status_at":"2022-08-30T08:16:00Z",'
                 b'"recipient":"+44231235674","status":"Delivered","type":"recipient_delivery_report_sms"}')
    r = sinch.parse(delivered, Options())
    assert (r.message_key, r.status, r.final, r.event_time, r.raw_time, r.reference, r.error_code) == (
        "sinch:01FC66621XXXXX119Z8PMV1QPQ:+44231235674", Status.DELIVERED, True,
        parse_iso("2022-08-30T08:16:00Z"), "2022-08-30T08:16:00Z", "a client reference", None)


def test_a_batch_report_is_refused_with_the_reason() -> None:
    # A batch delivery report counts the batch's recipients per status ("Delivery reports", summary).
    batch = (b'{"type":"delivery_report_sms","batch_id":"01FC66621XXXXX119Z8PMV1QPQ","total_message_count":2,'
             b'"statuses":[{"code":0,"count":1,"status":"Delivered"},{"code":402,"count":1,"status":"Aborted"}]}')
    assert reason(batch) == (
        "sinch 'delivery_report_sms' is a batch delivery report (recipients counted per status), not a receipt "
        "of one message: set the batch's delivery_report to per_recipient")
    assert reason(post(type="delivery_report_mms")).startswith("sinch 'delivery_report_mms' is a batch")
    assert reason(post(type="mo_text")) == (
        "unsupported sinch type 'mo_text': expected recipient_delivery_report_sms")


def test_an_mms_recipient_report_reads_the_same() -> None:
    r = sinch.parse(post(type="recipient_delivery_report_mms", status="Failed", code=417), OPTS)
    assert (r.message_id, r.status, r.error_category) == (MID, Status.UNDELIVERED, ErrorCategory.UNREACHABLE)


def test_the_recipient_makes_the_message() -> None:
    one = sinch.parse(post(recipient="+447700900101"), OPTS)
    two = sinch.parse(post(recipient="+447700900102"), OPTS)
    assert one.message_key != two.message_key and one.message_id.startswith(f"{BATCH}:")
    assert sinch.parse(post(recipient=447700900101), OPTS).message_id == f"{BATCH}:447700900101"


def test_operator_status_at_then_at_then_the_received_time() -> None:
    r = sinch.parse(post(), OPTS)
    assert (r.event_time, r.raw_time, r.warnings) == (parse_iso("2026-03-12T09:14:08Z"), "2026-03-12T09:14:08Z", ())
    # operator_status_at is optional (only when an SMSC's receipt gave one): not noted.
    r = sinch.parse(post(operator_status_at=None), OPTS)
    assert (r.event_time, r.raw_time, r.warnings) == (
        parse_iso("2026-03-12T09:14:09.930Z"), "2026-03-12T09:14:09.930Z", ())
    r = sinch.parse(post(operator_status_at="30/08/2022"), OPTS)
    assert (r.event_time, r.warnings) == (
        parse_iso("2026-03-12T09:14:09.930Z"), ("operator_status_at: unreadable '30/08/2022'; event time from at",))
    r = sinch.parse(post(operator_status_at=None, at=None), OPTS)
    assert (r.event_time, r.raw_time, r.warnings) == (
        RECEIVED, None, ("at: missing; event time from the received time",))
    r = sinch.parse(post(operator_status_at="soon", at="later"), OPTS)
    assert (r.event_time, r.warnings) == (RECEIVED, (
        "at: unreadable 'later', ignored", "operator_status_at: unreadable 'soon'; event time from the received time"))
    assert reason(post(operator_status_at=None, at=None), Options()) == (
        "at missing, and no received time to fall back on")


@pytest.mark.parametrize(("changes", "warning"), [
    ({"code": 12}, "code: unknown '12', kept without a category"),  # an SMSC's code passed through
    ({"code": "E1"}, "code: unknown 'E1', kept without a category"),
    ({"code": {"value": 402}}, "code: not text {'value': 402}, ignored"),
    ({"code": True}, "code: not text True, ignored"),
])
def test_an_unknown_or_unreadable_code_does_not_sink_the_receipt(changes: dict[str, Any], warning: str) -> None:
    r = sinch.parse(post(status="Failed", **changes), OPTS)
    assert (r.status, r.final, r.message_id, r.error_category, r.warnings) == (
        Status.UNDELIVERED, True, MID, None, (warning,))


def test_an_unreadable_reference_is_null_and_noted() -> None:
    r = sinch.parse(post(client_reference=["order-88412"]), OPTS)
    assert (r.reference, r.warnings) == (None, ("client_reference: not text ['order-88412'], ignored",))
    assert sinch.parse(post(client_reference=None), OPTS).reference is None


def test_the_deployments_mappings_come_first() -> None:
    mappings = Mappings(statuses={"sinch": {"sent": (Status.SENT, False), "failed": (Status.EXPIRED, True)}},
                        errors={"sinch": {"12": (ErrorCategory.UNREACHABLE, None)}})
    options = Options(received_at=RECEIVED, mappings=mappings)
    r = sinch.parse(post(status="Sent", code=None), options)
    assert (r.status, r.final, r.provider_status) == (Status.SENT, False, "Sent")
    r = sinch.parse(post(status="Failed", code=12), options)
    assert (r.status, r.error_code, r.error_category, r.retryable, r.warnings) == (
        Status.EXPIRED, "12", ErrorCategory.UNREACHABLE, True, ())
    assert reason(post(status="Sent")) == "unknown sinch status 'sent'"  # without them


def test_no_phone_number_is_logged_by_a_reason() -> None:
    # The recipient is part of the id; no refusal quotes it.
    for payload in (post(status="Sent"), post(batch_id=None), post(status=None), post(type="delivery_report_sms")):
        assert "7700900101" not in reason(payload)


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", "empty receipt"),
    (b'{"batch_id": "\xc3\x28"}', "not UTF-8"),
    (b"batch_id=1&status=Delivered", "sinch sends delivery reports as a JSON object"),
    (b"[1, 2]", "sinch sends delivery reports as a JSON object"),
    (b'{"batch_id": "1"', "invalid JSON"),
    (post(type=None), "missing field 'type'"),
    (post(type={"a": 1}), "field 'type' is a dict, expected text"),
    (post(batch_id=None), "missing field 'batch_id'"),
    (post(recipient=" "), "missing field 'recipient'"),
    (post(recipient=["+447700900101"]), "field 'recipient' is a list, expected text"),
    (post(status=None), "missing field 'status'"),
    (post(status="DELIVRD"), "unknown sinch status 'delivrd'"),
])
def test_errors_say_why(payload: bytes, expected: str) -> None:
    assert reason(payload).startswith(expected)


# --- properties: whatever arrives, a Receipt or a ReceiptError, nothing else -----------------

FIELDS = ["type", "batch_id", "recipient", "status", "code", "at", "operator_status_at", "client_reference"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from([*STATUSES, *map(str, ERRORS), "recipient_delivery_report_sms", "delivery_report_sms",
                       "2026-03-12T09:14:08Z", BATCH, RECIPIENT]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def must_be_receipt_or_reason(payload: bytes, options: Options) -> None:
    try:
        assert isinstance(sinch.parse(payload, options), Receipt)
    except ReceiptError as exc:
        assert str(exc)


@settings(max_examples=examples(400))
@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    must_be_receipt_or_reason(payload, OPTS)


@settings(max_examples=examples(400))
@given(st.dictionaries(st.sampled_from(FIELDS), values), st.booleans())
def test_arbitrary_json_objects(body: dict[str, Any], received: bool) -> None:
    must_be_receipt_or_reason(json.dumps(body).encode(), OPTS if received else Options())


@settings(max_examples=examples(400))
@given(st.dictionaries(st.sampled_from(FIELDS[4:]), values), st.sampled_from(list(STATUSES)))
def test_a_clear_id_and_status_is_never_sunk_by_the_rest(rest: dict[str, Any], word: str) -> None:
    body = {**rest, "type": "recipient_delivery_report_sms", "batch_id": BATCH, "recipient": RECIPIENT,
            "status": word}
    r = sinch.parse(json.dumps(body).encode(), OPTS)
    assert (r.message_id, r.status, r.provider_status) == (MID, STATUSES[word][0], word)
    assert all(w.split(":", 1)[0] in FIELDS for w in r.warnings)


# --- the sample file and the generator -------------------------------------------------------


def test_sample_lines_all_parse_but_the_batch_report() -> None:
    lines = samples.lines("sinch")
    assert 10 <= len(lines) <= 14
    parsed: list[Receipt] = []
    failed: list[str] = []
    for line in lines:
        try:
            parsed.append(sinch.parse(line, OPTS))
        except ReceiptError as exc:
            failed.append(str(exc))
    assert len(failed) == 1 and failed[0].startswith("sinch 'delivery_report_sms' is a batch delivery report")
    # What the sample is for: two recipients of one batch, a duplicate, a failure with a
    # code, and a final that arrives before a transient of the same message.
    assert len({r.message_id.partition(":")[0] for r in parsed}) < len({r.message_key for r in parsed})
    assert len(set(lines)) == len(lines) - 1
    assert any(r.error_code and r.error_category for r in parsed)
    assert any(
        a.message_key == b.message_key and a.final and not b.final
        for i, a in enumerate(parsed) for b in parsed[i + 1:]
    )


def test_every_lifecycle_step_is_generated_and_read_back() -> None:
    for steps in generate.LIFECYCLES["sinch"]:
        for step in steps:
            word, _, code = step.partition(":")
            r = sinch.parse(generate.FORMATS["sinch"](7, word, code or None, generate.BASE), Options())
            assert (r.provider_status, r.error_code, r.warnings) == (word, code or None, ())
            assert r.event_time == micros(generate.BASE)


# --- x-sinch-webhook-signature ---------------------------------------------------------------

# The test vector of Sinch's own SDK (sinch/sinch-sdk-dotnet, Conversation WebhooksTests.ValidateRequest):
# a Conversation API callback, signed as the SMS API's callbacks are.
VECTOR_BODY = (b'{"app_id":"","accepted_time":"2021-10-18T17:49:13.813615Z","project_id":'
               b'"e2df3a34-a71b-4448-9db5-a8d2baad28e4","contact_create_notification":{"contact":{"id":'
               b'"01FJA8B466Y0R2GNXD78MD9SM1","channel_identities":[{"channel":"SMS","identity":"48123456789",'
               b'"app_id":""}],"display_name":"New Test Contact","email":"new.contact@email.com","external_id":"",'
               b'"metadata":"","language":"EN_US"}},"message_metadata":""}')
VECTOR_HEADERS = {"x-sinch-webhook-signature-nonce": "01FJA8B4A7BM43YGWSG9GBV067",
                  "x-sinch-webhook-signature-timestamp": "1634579353",
                  "x-sinch-webhook-signature": "6bpJoRmFoXVjfJIVglMoJzYXxnoxRujzR4k2GOXewOE="}
VECTOR_SECRET = "foo_secret1234"


def request(body: bytes, **headers: str) -> Incoming:
    return Incoming("POST", "/dlr/sinch", "", {"content-type": "application/json", **headers}, body)


def test_sinchs_sdk_test_vector() -> None:
    assert webhook.signature(VECTOR_BODY, "01FJA8B4A7BM43YGWSG9GBV067", "1634579353", VECTOR_SECRET) == (
        VECTOR_HEADERS["x-sinch-webhook-signature"])
    webhook.verify(request(VECTOR_BODY, **VECTOR_HEADERS), VECTOR_SECRET)
    webhook.verify(request(VECTOR_BODY, **VECTOR_HEADERS, **{"x-sinch-webhook-signature-algorithm": "HmacSHA256"}),
                   VECTOR_SECRET)


def test_the_other_named_algorithms() -> None:
    body = samples.lines("sinch")[3]
    for algorithm in ("HmacSHA512", "HmacSHA384"):
        headers = {"x-sinch-webhook-signature-nonce": "n1", "x-sinch-webhook-signature-timestamp": "1773306851",
                   "x-sinch-webhook-signature-algorithm": algorithm,
                   "x-sinch-webhook-signature": webhook.signature(body, "n1", "1773306851", "s", algorithm)}
        webhook.verify(request(body, **headers), "s")
        with pytest.raises(SignatureError, match="does not match"):
            webhook.verify(request(body, **{**headers, "x-sinch-webhook-signature-algorithm": "HmacSHA256"}), "s")


@pytest.mark.parametrize(("incoming", "why"), [
    (request(VECTOR_BODY.replace(b"New Test", b"Old Test"), **VECTOR_HEADERS),
     "x-sinch-webhook-signature does not match the body, nonce and timestamp"),
    (request(VECTOR_BODY, **{**VECTOR_HEADERS, "x-sinch-webhook-signature-timestamp": "1634579354"}),
     "does not match"),
    (request(VECTOR_BODY, **{**VECTOR_HEADERS, "x-sinch-webhook-signature-nonce": "01FJA8B4A7BM43YGWSG9GBV068"}),
     "does not match"),
    (request(VECTOR_BODY), "missing x-sinch-webhook-signature header"),
    (request(VECTOR_BODY, **{k: v for k, v in VECTOR_HEADERS.items() if not k.endswith("nonce")}),
     "missing x-sinch-webhook-signature-nonce header"),
    (request(VECTOR_BODY, **{k: v for k, v in VECTOR_HEADERS.items() if not k.endswith("timestamp")}),
     "missing x-sinch-webhook-signature-timestamp header"),
    (request(VECTOR_BODY, **VECTOR_HEADERS, **{"x-sinch-webhook-signature-algorithm": "HmacMD5"}),
     "is not HmacSHA256, HmacSHA384 or HmacSHA512"),
    (request(VECTOR_BODY, **{**VECTOR_HEADERS, "x-sinch-webhook-signature": "é"}), "not base64"),
])
def test_a_bad_signature_is_refused(incoming: Incoming, why: str) -> None:
    with pytest.raises(SignatureError, match=why) as refused:
        webhook.verify(incoming, VECTOR_SECRET)
    assert VECTOR_SECRET not in str(refused.value)
    with pytest.raises(SignatureError):
        webhook.verify(request(VECTOR_BODY, **VECTOR_HEADERS), "another secret")


def test_the_route_reads_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    body = samples.lines("sinch")[3]
    headers = {"x-sinch-webhook-signature-nonce": "n", "x-sinch-webhook-signature-timestamp": "1",
               "x-sinch-webhook-signature": webhook.signature(body, "n", "1", "callback-secret")}
    monkeypatch.setenv("DLR_SECRET_SINCH", "callback-secret")
    config = WebhookConfig.from_settings()
    ROUTES["sinch"].verify(request(body, **headers), config)
    with pytest.raises(SignatureError):
        ROUTES["sinch"].verify(request(body.replace(b"Delivered", b"Failed"), **headers), config)
    assert ROUTES["sinch"].methods == ("POST",)
    assert {h for h in receive.KEPT_HEADERS if h.startswith("x-sinch")} == set(headers) | {
        "x-sinch-webhook-signature-algorithm"}
    assert (dlr_settings.SETTINGS["secret_sinch"].env, dlr_settings.SETTINGS["secret_sinch"].secret) == (
        "DLR_SECRET_SINCH", True)
