"""Twilio status callbacks: every status and its final, the ErrorCode table,
RawDlrDoneDate and its zone, the legacy SmsSid/SmsStatus, what is tolerated
(each named in warnings) and what is still a dead letter, the deployment's
overrides, the sample file, the generator; and X-Twilio-Signature, from
Twilio's own published example, over DLR_PUBLIC_URL + path and query."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import settings as dlr_settings
from streams.core import generate, samples
from streams.core.mappings import Mappings
from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, is_final_everywhere, micros
from streams.core.providers import Options
from streams.core.providers._http import Incoming, SignatureError
from streams.core.providers.twilio import parse as twilio
from streams.core.providers.twilio import webhook
from streams.worker.webhooks import receive
from streams.worker.webhooks.receive import WebhookConfig
from streams.worker.webhooks.routes import ROUTES
from tests.budget import examples

RECEIVED = micros(dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.UTC))
OPTS = Options(received_at=RECEIVED)
SID = "SM1f0e5c2a9b7d44e1a3c6b8d2e4f60001"
TO, FROM = "+15558675310", "+15017122661"


def fields(**changes: Any) -> dict[str, Any]:
    """A status callback's form in the shape of Twilio's examples ("Track the Message
    Status of Outbound Messages"); None leaves a field out."""
    base: dict[str, Any] = {
        "ApiVersion": "2010-04-01", "AccountSid": "AC5ef8732a3c49700934481addd5ce1659", "SmsSid": SID,
        "SmsStatus": "delivered", "MessageStatus": "delivered", "To": TO, "MessageSid": SID, "From": FROM,
        "RawDlrDoneDate": "2603120914",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def form(**changes: Any) -> bytes:
    return urlencode(fields(**changes)).encode()


def status(word: str, **changes: Any) -> bytes:
    return form(MessageStatus=word, SmsStatus=word, **changes)


def reason(payload: bytes, options: Options = OPTS) -> str:
    with pytest.raises(ReceiptError) as caught:
        twilio.parse(payload, options)
    return str(caught.value)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return micros(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC))


# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values, outbound
# statuses: (Status, final). read implies delivered; failed never left Twilio.
STATUSES = {
    "accepted": (Status.PENDING, False),
    "scheduled": (Status.SCHEDULED, False),
    "canceled": (Status.CANCELLED, True),
    "queued": (Status.QUEUED, False),
    "sending": (Status.QUEUED, False),
    "sent": (Status.SENT, False),
    "delivered": (Status.DELIVERED, True),
    "undelivered": (Status.UNDELIVERED, True),
    "failed": (Status.REJECTED, True),
    "read": (Status.DELIVERED, True),
}
# https://www.twilio.com/docs/api/errors/<code>: (category, retryable).
ERRORS = {
    "21211": (ErrorCategory.INVALID_NUMBER, False),  # Invalid 'To' Phone Number
    "21408": (ErrorCategory.ROUTING, False),  # Permission to send an SMS has not been enabled for the region
    "21610": (ErrorCategory.BLACKLISTED, False),  # Attempt to send to unsubscribed recipient
    "21611": (ErrorCategory.THROTTLED, True),  # 'From' number exceeded the maximum number of queued messages
    "21612": (ErrorCategory.ROUTING, False),  # 'To' number not currently reachable via SMS
    "21614": (ErrorCategory.INVALID_NUMBER, False),  # 'To' number is not a valid mobile number
    "30001": (ErrorCategory.THROTTLED, True),  # Queue overflow
    "30002": (ErrorCategory.SENDER_REJECTED, False),  # Account suspended
    "30003": (ErrorCategory.UNREACHABLE, True),  # Unreachable destination handset
    "30004": (ErrorCategory.BARRED, False),  # Message blocked
    "30005": (ErrorCategory.INVALID_NUMBER, False),  # Unknown destination handset
    "30006": (ErrorCategory.INVALID_NUMBER, False),  # Landline or unreachable carrier
    "30007": (ErrorCategory.CONTENT_REJECTED, False),  # Message filtered
    "30008": (ErrorCategory.GENERIC, False),  # Unknown error
    "30010": (ErrorCategory.INVALID_MESSAGE, False),  # Message price exceeds max price
    "30017": (ErrorCategory.NETWORK, True),  # Carrier network congestion
    "30018": (ErrorCategory.SENDER_REJECTED, False),  # Destination carrier requires sender ID pre-registration
    "30019": (ErrorCategory.INVALID_MESSAGE, False),  # Content size exceeds carrier limit
    "30022": (ErrorCategory.THROTTLED, True),  # US A2P 10DLC - Rate Limits Exceeded
    "30023": (ErrorCategory.THROTTLED, True),  # US A2P 10DLC - Daily Message Cap Reached
    "30024": (ErrorCategory.SENDER_REJECTED, False),  # Numeric Sender ID Not Provisioned on Carrier
    "30027": (ErrorCategory.THROTTLED, True),  # US A2P 10DLC - T-Mobile Daily Message Limit Reached
    "30032": (ErrorCategory.SENDER_REJECTED, False),  # Toll-Free Number Has Not Been Verified
    "30034": (ErrorCategory.SENDER_REJECTED, False),  # US A2P 10DLC - Message from an Unregistered Number
    "30036": (ErrorCategory.EXPIRED, True),  # Validity Period Expired
    "30037": (ErrorCategory.SENDER_REJECTED, False),  # Outbound Messaging Disabled
    "30038": (ErrorCategory.CONTENT_REJECTED, False),  # OTP Message Body Filtered
    "30500": (ErrorCategory.GENERIC, True),  # Twilio Internal Error: "Try sending the message again"
}


def test_tables_are_exactly_the_documented_vocabularies() -> None:
    assert set(twilio.STATUSES) == set(STATUSES)
    assert set(twilio.ERRORS) == set(ERRORS)
    # The enum's other words (MessageEnumStatus in Twilio's OpenAPI spec) are refused with a reason.
    assert set(twilio.UNDEFINED) | set(twilio.NOT_OUTBOUND) == {"partially_delivered", "receiving", "received"}


def test_statuses_ranked_final_are_final() -> None:
    for state, final in twilio.STATUSES.values():
        assert final or not is_final_everywhere(state)


@pytest.mark.parametrize("word", [*STATUSES, "Delivered", "UNDELIVERED"])
def test_every_status(word: str) -> None:
    r = twilio.parse(status(word), OPTS)
    assert (r.status, r.final, r.provider_status) == (*STATUSES[word.lower()], word.lower())
    assert (r.provider, r.message_id, r.message_key) == ("twilio", SID, f"twilio:{SID}")


@pytest.mark.parametrize("code", list(ERRORS))
def test_every_error_code(code: str) -> None:
    r = twilio.parse(status("undelivered", ErrorCode=code), OPTS)
    assert (r.error_code, r.error_category, r.retryable, r.warnings) == (code, *ERRORS[code], ())


def test_twilios_example_callbacks() -> None:
    # The fields of the status callbacks Twilio's messaging guides show
    # ("Track the Message Status of Outbound Messages", "Outbound Message Status in Status
    # Callbacks"), as Twilio posts them: form-encoded, '+' escaped.
    sent = (b"SmsSid=SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&SmsStatus=sent&MessageStatus=sent"
            b"&To=%2B15558675310&MessageSid=SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
            b"&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&From=%2B15017250604&ApiVersion=2010-04-01")
    assert twilio.parse(sent, OPTS) == Receipt(
        provider="twilio", message_id="SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", status=Status.SENT, final=False,
        provider_status="sent", event_time=RECEIVED,  # no time in the callback: the received time, not noted
    )
    undelivered = (b"ApiVersion=2010-04-01&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&ErrorCode=30003"
                   b"&From=%2B15017250604&MessageSid=SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&MessageStatus=undelivered"
                   b"&RawDlrDoneDate=2603121117&SmsSid=SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&SmsStatus=undelivered"
                   b"&To=%2B15558675310")
    assert twilio.parse(undelivered, Options()) == Receipt(
        provider="twilio", message_id="SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", status=Status.UNDELIVERED, final=True,
        provider_status="undelivered", event_time=utc(2026, 3, 12, 11, 17), error_code="30003",
        error_category=ErrorCategory.UNREACHABLE, retryable=True, raw_time="2603121117",
    )


def test_whatsapp_read_is_delivered_and_keeps_its_word() -> None:
    r = twilio.parse(status("read", To="whatsapp:+15558675311", From="whatsapp:+14155238886",
                            RawDlrDoneDate=None), OPTS)
    assert (r.status, r.final, r.provider_status, r.event_time) == (Status.DELIVERED, True, "read", RECEIVED)


def test_raw_dlr_done_date_is_read_in_the_configured_zone_only() -> None:
    tallinn = ZoneInfo("Europe/Tallinn")
    r = twilio.parse(form(RawDlrDoneDate="2603121114"), Options(zones={"twilio": tallinn}))
    assert (r.event_time, r.raw_time, r.warnings) == (utc(2026, 3, 12, 9, 14), "2603121114", ())
    assert twilio.parse(form(RawDlrDoneDate="2603121114"), Options(zones={"vonage": tallinn})).event_time == (
        utc(2026, 3, 12, 11, 14))


@pytest.mark.parametrize("raw", ["26031209", "2603120914Z", "2613120914", "\uff12" * 10, "2026-03-12T09:14:00Z"])
def test_an_unreadable_done_date_falls_back_to_the_received_time(raw: str) -> None:
    r = twilio.parse(form(RawDlrDoneDate=raw), OPTS)
    assert (r.status, r.event_time, r.raw_time) == (Status.DELIVERED, RECEIVED, None)
    assert r.warnings == (f"RawDlrDoneDate: unreadable {raw!r}; event time from the received time",)


def test_without_a_done_date_the_received_time_and_without_that_a_reason() -> None:
    r = twilio.parse(form(RawDlrDoneDate=None), OPTS)
    assert (r.event_time, r.raw_time, r.warnings) == (RECEIVED, None, ())  # the documented shape: not noted
    assert twilio.parse(form(RawDlrDoneDate=""), OPTS).event_time == RECEIVED
    assert reason(form(RawDlrDoneDate=None), Options()) == (
        "RawDlrDoneDate missing, and no received time to fall back on")
    assert reason(form(RawDlrDoneDate="soon"), Options()) == (
        "RawDlrDoneDate unreadable 'soon', and no received time to fall back on")


def test_message_fields_win_over_the_legacy_ones() -> None:
    r = twilio.parse(form(SmsSid="SMother", SmsStatus="sent"), OPTS)
    assert (r.message_id, r.status, r.provider_status) == (SID, Status.DELIVERED, "delivered")
    assert r.warnings == (f"SmsSid: 'SMother' disagrees with MessageSid {SID!r}, ignored",
                          "SmsStatus: 'sent' disagrees with MessageStatus 'delivered', ignored")


def test_the_legacy_fields_alone_are_read_and_noted() -> None:
    r = twilio.parse(form(MessageSid=None, MessageStatus=" ", SmsStatus="undelivered", ErrorCode="30005"), OPTS)
    assert (r.message_id, r.status, r.error_code) == (SID, Status.UNDELIVERED, "30005")
    assert r.warnings == ("MessageSid: missing; SmsSid used", "MessageStatus: missing; SmsStatus used")


@pytest.mark.parametrize(("code", "warning"), [
    ("63016", "ErrorCode: unknown '63016', kept without a category"),  # WhatsApp: outside the messaging window
    ("21613", "ErrorCode: unknown '21613', kept without a category"),
    ("thirty", "ErrorCode: unknown 'thirty', kept without a category"),
])
def test_an_unknown_error_code_is_kept_without_a_category(code: str, warning: str) -> None:
    r = twilio.parse(status("undelivered", ErrorCode=code), OPTS)
    assert (r.status, r.final, r.error_code, r.error_category, r.retryable, r.warnings) == (
        Status.UNDELIVERED, True, code, None, None, (warning,))


def test_no_error_code_is_no_error() -> None:
    for payload in (form(), form(ErrorCode=""), form(ErrorCode=" ")):
        r = twilio.parse(payload, OPTS)
        assert (r.error_code, r.error_category, r.retryable) == (None, None, None)


def test_undefined_and_inbound_words_are_refused_with_the_reason() -> None:
    assert reason(status("partially_delivered")) == (
        "twilio status 'partially_delivered' is listed by Twilio as deprecated, without a meaning; "
        "map it in DLR_MAPPINGS if your account's meaning is known")
    assert reason(status("received")) == (
        "twilio status 'received' is the status of an inbound message, not of a sent one: point only "
        "StatusCallback URLs at /dlr/twilio")
    assert reason(status("delivery_unknown")) == "unknown twilio status 'delivery_unknown'"


def test_the_deployments_mappings_come_first() -> None:
    mappings = Mappings(statuses={"twilio": {"partially_delivered": (Status.DELIVERED, True),
                                             "failed": (Status.UNDELIVERED, True)}},
                        errors={"twilio": {"63016": (ErrorCategory.INVALID_MESSAGE, None),
                                           "30003": (ErrorCategory.GENERIC, False)}})
    options = Options(received_at=RECEIVED, mappings=mappings)
    r = twilio.parse(status("partially_delivered"), options)
    assert (r.status, r.final, r.provider_status) == (Status.DELIVERED, True, "partially_delivered")
    r = twilio.parse(status("failed", ErrorCode="63016"), options)
    assert (r.status, r.error_code, r.error_category, r.retryable, r.warnings) == (
        Status.UNDELIVERED, "63016", ErrorCategory.INVALID_MESSAGE, False, ())
    assert twilio.parse(status("undelivered", ErrorCode="30003"), options).error_category is ErrorCategory.GENERIC


def test_no_phone_number_is_kept() -> None:
    r = twilio.parse(form(), OPTS)
    assert TO not in repr(r) and FROM not in repr(r) and "5558675310" not in repr(r)


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", "empty receipt"),
    (b"MessageSid=\xc3\x28", "not UTF-8 at byte 11"),
    (b'{"MessageSid": "SM1", "MessageStatus": "sent"}', "twilio sends status callbacks form-encoded"),
    (b"id:1 sub:001 dlvrd:001 submit date:2603120914 done date:2603120914 stat:DELIVRD err:000",
     "twilio sends status callbacks form-encoded"),
    (b"delivered", "not JSON, not a URL query, not SMPP receipt text"),
    (form(MessageSid=None, SmsSid=None), "missing field 'MessageSid'"),
    (form(MessageStatus=None, SmsStatus=None), "missing field 'MessageStatus'"),
    (b"MessageSid=SM1&MessageStatus", "invalid query string"),
    (status("DELIVRD"), "unknown twilio status 'delivrd'"),
])
def test_errors_say_why(payload: bytes, expected: str) -> None:
    assert reason(payload).startswith(expected)


def test_an_escaped_or_repeated_field_reads_as_a_url_query_does() -> None:
    # The fast path unescapes only the fields read; anything unusual takes _wire.query's path.
    body = form(MessageStatus="sent", SmsStatus="sent").replace(b"MessageSid=", b"Message%53id=")
    assert twilio.parse(body, OPTS).message_id == SID
    twice = form() + b"&MessageStatus=sent&SmsStatus=sent"
    assert twilio.parse(twice, OPTS).status is Status.SENT  # the last one, as parse_qsl's dict
    assert twilio.parse(form(MessageSid=None, SmsSid=None) + b"&MessageSid=SM%41x+y", OPTS).message_id == "SMAx y"


# --- properties: whatever arrives, a Receipt or a ReceiptError, nothing else -----------------

FIELDS = ["MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode", "RawDlrDoneDate", "To", "From"]
VALUES = st.text(max_size=20) | st.sampled_from([*STATUSES, *ERRORS, "partially_delivered", "2603120914", SID])


def must_be_receipt_or_reason(payload: bytes, options: Options) -> None:
    try:
        assert isinstance(twilio.parse(payload, options), Receipt)
    except ReceiptError as exc:
        assert str(exc)


@settings(max_examples=examples(400))
@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    must_be_receipt_or_reason(payload, OPTS)


@settings(max_examples=examples(400))
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES), st.booleans())
def test_arbitrary_forms(body: dict[str, str], received: bool) -> None:
    must_be_receipt_or_reason(urlencode(body).encode(), OPTS if received else Options())


@settings(max_examples=examples(400))
@given(st.dictionaries(st.sampled_from(FIELDS[4:]), VALUES), st.sampled_from(list(STATUSES)))
def test_a_clear_id_and_status_is_never_sunk_by_the_rest(rest: dict[str, str], word: str) -> None:
    r = twilio.parse(urlencode({**rest, "MessageSid": SID, "MessageStatus": word}).encode(), OPTS)
    assert (r.message_id, r.status, r.provider_status) == (SID, STATUSES[word][0], word)
    assert all(w.split(":", 1)[0] in FIELDS for w in r.warnings)


# --- the sample file and the generator -------------------------------------------------------


def test_sample_lines_all_parse_but_the_one_undefined_status() -> None:
    lines = samples.lines("twilio")
    assert 10 <= len(lines) <= 15
    parsed: list[Receipt] = []
    failed: list[str] = []
    for line in lines:
        try:
            parsed.append(twilio.parse(line, OPTS))
        except ReceiptError as exc:
            failed.append(str(exc))
    assert len(failed) == 1 and failed[0].startswith("twilio status 'partially_delivered' is listed by Twilio")
    # What the sample is for: a duplicate, a failure with a code, WhatsApp's read, and a
    # final that arrives before a transient of the same message.
    assert len(set(lines)) == len(lines) - 1
    assert any(r.error_code and r.error_category for r in parsed)
    assert any(r.provider_status == "read" for r in parsed)
    assert any(
        a.message_key == b.message_key and a.final and not b.final
        for i, a in enumerate(parsed) for b in parsed[i + 1:]
    )


def test_every_lifecycle_step_is_generated_and_read_back() -> None:
    for steps in generate.LIFECYCLES["twilio"]:
        for step in steps:
            word, _, code = step.partition(":")
            payload = generate.FORMATS["twilio"](7, word, code or None, generate.BASE)
            r = twilio.parse(payload, OPTS)
            assert (r.provider_status, r.error_code) == (word, code or None)
            done = word in ("delivered", "undelivered")
            assert r.event_time == (micros(generate.BASE.replace(second=0)) if done else RECEIVED)


# --- X-Twilio-Signature --------------------------------------------------------------------

# Twilio's worked example ("Webhooks security", https://www.twilio.com/docs/usage/webhooks/
# webhooks-security; the same vector in twilio/twilio-python tests/unit/test_request_validator.py).
EXAMPLE_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
EXAMPLE_TOKEN = "12345"
EXAMPLE_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                  "From": "+14158675309", "To": "+18005551212"}
EXAMPLE_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def request(body: bytes, signature: str | None, path: str = "/myapp.php", query: str = "foo=1&bar=2",
            **headers: str) -> Incoming:
    sent = {"content-type": "application/x-www-form-urlencoded", **headers}
    if signature is not None:
        sent["x-twilio-signature"] = signature
    return Incoming("POST", path, query, sent, body)


EXAMPLE_BODY = urlencode(EXAMPLE_PARAMS).encode()


def test_twilios_published_signature_example() -> None:
    assert webhook.signature(EXAMPLE_URL, EXAMPLE_PARAMS.items(), EXAMPLE_TOKEN) == EXAMPLE_SIGNATURE
    assert webhook.signature(EXAMPLE_URL, reversed(EXAMPLE_PARAMS.items()), EXAMPLE_TOKEN) == EXAMPLE_SIGNATURE
    # As received: the base URL from DLR_PUBLIC_URL, the path and query from the request.
    webhook.verify(request(EXAMPLE_BODY, EXAMPLE_SIGNATURE), EXAMPLE_TOKEN, "https://mycompany.com")
    webhook.verify(request(EXAMPLE_BODY, EXAMPLE_SIGNATURE), EXAMPLE_TOKEN, "https://mycompany.com/")


def test_the_default_port_is_accepted_either_way() -> None:
    webhook.verify(request(EXAMPLE_BODY, EXAMPLE_SIGNATURE), EXAMPLE_TOKEN, "https://mycompany.com:443")
    with_port = webhook.signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", EXAMPLE_PARAMS.items(),
                                  EXAMPLE_TOKEN)
    webhook.verify(request(EXAMPLE_BODY, with_port), EXAMPLE_TOKEN, "https://mycompany.com")
    assert webhook.url_forms("http://a.example:8080/x?y=1") == ["http://a.example:8080/x?y=1", "http://a.example/x?y=1"]
    assert webhook.url_forms("http://a.example/x") == ["http://a.example/x", "http://a.example:80/x"]


def test_a_repeated_parameter_signs_each_distinct_value_sorted() -> None:
    url = "https://dlr.example.com/dlr/twilio"
    expected = webhook.signature(url + "", [("x", "1"), ("x", "2")], "t")
    assert webhook.signature(url, [("x", "2"), ("x", "1"), ("x", "1")], "t") == expected


@pytest.mark.parametrize(("incoming", "token", "public_url", "why"), [
    (request(EXAMPLE_BODY.replace(b"1234", b"9999"), EXAMPLE_SIGNATURE), EXAMPLE_TOKEN, "https://mycompany.com",
     "X-Twilio-Signature does not match DLR_PUBLIC_URL + path and the POST parameters"),
    (request(EXAMPLE_BODY, EXAMPLE_SIGNATURE, query="foo=1&bar=3"), EXAMPLE_TOKEN, "https://mycompany.com",
     "does not match"),
    (request(EXAMPLE_BODY, EXAMPLE_SIGNATURE), "54321", "https://mycompany.com", "does not match"),
    (request(EXAMPLE_BODY, EXAMPLE_SIGNATURE), EXAMPLE_TOKEN, "https://othercompany.com", "does not match"),
    (request(EXAMPLE_BODY, None), EXAMPLE_TOKEN, "https://mycompany.com", "missing X-Twilio-Signature header"),
    (request(EXAMPLE_BODY, "ñ"), EXAMPLE_TOKEN, "https://mycompany.com", "not base64"),
    (request(EXAMPLE_BODY, EXAMPLE_SIGNATURE), EXAMPLE_TOKEN, "", "DLR_PUBLIC_URL is not set"),
    (request(EXAMPLE_BODY, EXAMPLE_SIGNATURE, **{"x-twilio-webhooks-signature-settings": "algorithm=HMAC_SHA256"}),
     EXAMPLE_TOKEN, "https://mycompany.com", "Webhooks Rule's SharedKey"),
])
def test_a_bad_or_unverifiable_signature_is_refused(incoming: Incoming, token: str, public_url: str, why: str) -> None:
    with pytest.raises(SignatureError, match=why.replace("+", r"\+")) as refused:
        webhook.verify(incoming, token, public_url)
    assert token not in str(refused.value) and "\n" not in str(refused.value)


def test_the_route_reads_the_token_and_dlr_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    line = samples.lines("twilio")[3]
    url = "https://dlr.example.com/dlr/twilio"
    good = webhook.signature(url, parse_qsl(line.decode(), keep_blank_values=True), "auth-token")
    incoming = request(line, good, path="/dlr/twilio", query="")
    monkeypatch.setenv("DLR_SECRET_TWILIO", "auth-token")
    monkeypatch.setenv("DLR_PUBLIC_URL", " https://dlr.example.com ")
    config = WebhookConfig.from_settings()
    assert config.secrets["twilio"] == "auth-token" and config.provider_settings["public_url"] == (
        "https://dlr.example.com")
    ROUTES["twilio"].verify(incoming, config)
    with pytest.raises(SignatureError, match="does not match"):
        ROUTES["twilio"].verify(request(line.replace(b"delivered", b"undelivered"), good, "/dlr/twilio", ""), config)
    monkeypatch.delenv("DLR_PUBLIC_URL")
    with pytest.raises(SignatureError, match="DLR_PUBLIC_URL is not set"):
        ROUTES["twilio"].verify(incoming, WebhookConfig.from_settings())
    monkeypatch.delenv("DLR_SECRET_TWILIO")
    ROUTES["twilio"].verify(incoming, WebhookConfig.from_settings())  # no token: nothing is checked


@pytest.mark.parametrize("bad", ["dlr.example.com", "https://dlr.example.com/?a=1", "ftp://dlr.example.com"])
def test_a_malformed_public_url_stops_the_worker(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("DLR_PUBLIC_URL", bad)
    with pytest.raises(SystemExit, match="DLR_PUBLIC_URL="):
        WebhookConfig.from_settings()


def test_the_settings_twilio_reads() -> None:
    assert dlr_settings.SETTINGS["public_url"].env == "DLR_PUBLIC_URL"
    token = dlr_settings.SETTINGS["secret_twilio"]
    assert (token.env, token.secret) == ("DLR_SECRET_TWILIO", True)
    assert ROUTES["twilio"].methods == ("POST",) and "x-twilio-signature" in receive.KEPT_HEADERS
