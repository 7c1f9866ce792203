"""Vonage Messages API status webhooks on /dlr/vonage: public examples, every status,
the error object's code (v1's RFC 7807 `type`/`title`, v0.1's `code`), the codes that
change what a failure word says, what is tolerated (each named in warnings), what is
still a dead letter, the deployment's overrides, and the JWT the webhook is signed with."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.mappings import Mappings
from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status, is_final_everywhere, micros
from streams.core.providers import Options, normalize
from streams.core.providers._http import Incoming, SignatureError, sign_hs256
from streams.core.providers.vonage import parse as vonage
from streams.core.providers.vonage import webhook

RECEIVED = micros(dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.UTC))
OPTS = Options(received_at=RECEIVED)
UUID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0) -> int:
    return micros(dt.datetime(year, month, day, hour, minute, second, ms * 1000, tzinfo=dt.UTC))


def body(**changes: Any) -> bytes:
    """A status webhook as the Messages API v1 sends it for SMS; None leaves a field out."""
    base: dict[str, Any] = {
        "message_uuid": UUID, "to": "447700900000", "from": "447700900001", "timestamp": "2026-03-12T09:14:25Z",
        "status": "delivered", "channel": "sms", "usage": {"currency": "EUR", "price": "0.0333"},
        "client_ref": "order-88412",
    }
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def problem(code: int, title: str | int | None = None, detail: str = "") -> dict[str, Any]:
    """v1's error object: RFC 7807 problem details, the code at the end of `type`."""
    return {"type": f"https://developer.nexmo.com/api-errors/messages-olympus#{code}",
            "title": str(code) if title is None else title, "detail": detail,
            "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"}


def reason(payload: bytes, options: Options = OPTS) -> str:
    with pytest.raises(ReceiptError) as caught:
        vonage.parse(payload, options)
    return str(caught.value)


# --- public examples -------------------------------------------------------------------------


def test_the_java_sdks_example_with_every_field() -> None:
    # Vonage/vonage-java-sdk src/test/java/com/vonage/client/messages/MessageStatusTest.java,
    # testSerdesAllFields (its random UUID fixed here): a submitted SMS, with an error
    # object (throttled, 1000), usage, sms.count_total, destination.network_code and WhatsApp
    # conversation fields.
    payload = (
        b'{\n  "message_uuid": "' + UUID.encode() + b'",\n  "to": "447700900000",\n  "from": "447700900001",\n'
        b'  "timestamp": "2020-01-01T14:00:03.010Z",\n  "status": "submitted",\n  "channel": "sms",\n'
        b'  "error": {\n    "type": "https://developer.nexmo.com/api-errors/messages-olympus#1000",\n'
        b'    "title": 1000,\n    "detail": "Throttled - You have exceeded the submission capacity allowed on this '
        b'account.",\n    "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"\n  },\n'
        b'  "usage": {\n    "currency": "EUR",\n    "price": "0.0333"\n  },\n'
        b'  "sms": {\n    "count_total": "3"\n  },\n  "destination": {\n    "network_code": "54321"\n  },\n'
        b'  "whatsapp": {\n      "conversation": {\n         "id": "1234567890",\n         "origin": {\n'
        b'            "type": "referral_conversion"\n         }\n      }\n   }\n}'
    )
    assert vonage.parse(payload, Options()) == Receipt(
        provider="vonage", message_id=UUID, status=Status.SENT, final=False, provider_status="submitted",
        event_time=utc(2020, 1, 1, 14, 0, 3, ms=10), error_code="1000", error_category=ErrorCategory.THROTTLED,
        retryable=True, price="0.0333", raw_time="2020-01-01T14:00:03.010Z",
    )


def test_the_java_sdks_examples_with_the_required_fields_and_a_read() -> None:
    # Same file: testSerdesRequiredFields (an undeliverable MMS, nothing but the required
    # fields) and testDeserializeUnknownProperties (a WhatsApp "read" with an error whose
    # title is a number, a client_ref and a field no schema names).
    required = (b'{"message_uuid": "' + UUID.encode() + b'", "to": "447700900000", "from": "447700900001",'
                b' "timestamp": "2020-01-08T15:43:21.000Z", "status": "undeliverable", "channel": "mms"}')
    r = vonage.parse(required, Options())
    assert (r.status, r.final, r.provider_status, r.event_time, r.error_code, r.price, r.reference, r.warnings) == (
        Status.UNDELIVERED, True, "undeliverable", utc(2020, 1, 8, 15, 43, 21), None, None, None, ())
    read = (
        b'{"message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "to": "447700900000", "from": "447700900001",'
        b' "timestamp": "2020-01-01T14:00:00.000Z", "status": "read",'
        b' "error": {"type": "https://developer.nexmo.com/api-errors/messages-olympus#1000", "title": 1000,'
        b' "detail": "Throttled - You have exceeded the submission capacity allowed on this account. Please wait'
        b' and retry", "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"},'
        b' "usage": {"currency": "EUR", "price": "0.0333"}, "client_ref": "string", "channel": "whatsapp",'
        b' "wubwub": {"Prop0": {"id": "ab12cdhfgjk3", "N3s7ed": {"type": "user_initiated"}}}}'
    )
    r = vonage.parse(read, Options())
    assert (r.message_id, r.status, r.final, r.provider_status, r.reference, r.error_code, r.warnings) == (
        "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", Status.DELIVERED, True, "read", "string", "1000", ())


def test_the_v0_1_openapi_example() -> None:
    # Nexmo/api-specification definitions/messages-olympus.yml (v0.1), MessageStatus: each
    # field's example value. Its error is {code, reason}, its to and from are objects.
    payload = json.dumps({
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": {"type": "sms", "number": "447700900000"}, "from": {"type": "sms", "number": "447700900000"},
        "timestamp": "2020-01-01T14:00:00.000Z", "status": "delivered",
        "error": {"code": 1300, "reason": "Not part of the provider network"},
        "usage": {"currency": "EUR", "price": "0.0333"}, "client_ref": "my-personal-reference",
    }).encode()
    r = vonage.parse(payload, Options())
    assert (r.status, r.final, r.error_code, r.error_category, r.retryable, r.price, r.reference, r.event_time) == (
        Status.DELIVERED, True, "1300", ErrorCategory.INVALID_NUMBER, False, "0.0333", "my-personal-reference",
        utc(2020, 1, 1, 14))
    assert "447700900000" not in repr(r)


# --- statuses ----------------------------------------------------------------------------------

# "Messages API Status Callbacks" and messages-olympus.yml's status enum: (Status, final).
STATUSES = {
    "submitted": (Status.SENT, False),
    "delivered": (Status.DELIVERED, True),
    "read": (Status.DELIVERED, True),
    "rejected": (Status.REJECTED, True),
    "undeliverable": (Status.UNDELIVERED, True),
}


def test_the_table_is_exactly_the_documented_vocabulary() -> None:
    assert vonage.MESSAGES_STATUSES == STATUSES
    for status, final in vonage.MESSAGES_STATUSES.values():
        assert final or not is_final_everywhere(status)


@pytest.mark.parametrize("word", [*STATUSES, "Delivered", "READ"])
def test_every_status(word: str) -> None:
    r = vonage.parse(body(status=word), OPTS)
    assert (r.provider, r.message_id, r.status, r.final, r.provider_status) == (
        "vonage", UUID, *STATUSES[word.lower()], word.lower())
    assert (r.event_time, r.raw_time, r.price, r.reference, r.warnings) == (
        utc(2026, 3, 12, 9, 14, 25), "2026-03-12T09:14:25Z", "0.0333", "order-88412", ())


def test_submitted_is_a_status_and_read_is_a_delivery() -> None:
    # submitted: passed on to the provider, not final; read: delivered, and says so.
    submitted = vonage.parse(body(status="submitted"), OPTS)
    assert (submitted.status, submitted.final) == (Status.SENT, False)
    read = vonage.parse(body(status="read"), OPTS)
    assert (read.status, read.final, read.provider_status) == (Status.DELIVERED, True, "read")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(vonage.MESSAGES_ERRORS))
def test_every_mapped_code(code: str) -> None:
    category, retryable = vonage.MESSAGES_ERRORS[code]
    r = vonage.parse(body(status="rejected", error=problem(int(code), "A title")), OPTS)
    assert (r.error_code, r.error_category) == (code, category)
    assert r.retryable is (retryable if retryable is not None else r.retryable)
    assert r.warnings == ()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (problem(1320), "1320"),
        (problem(1120, "Invalid sender", "The `from` parameter is invalid for the given channel."), "1120"),
        (problem(1180, 1180), "1180"),
        ({"type": "https://developer.vonage.com/api-errors/messages#1250", "title": "Unroutable"}, "1250"),
        ({"type": "https://example.com/error", "title": "1180", "detail": "Absent Subscriber Temporary"}, "1180"),
        ({"title": 1230}, "1230"),
        ({"code": 1300, "reason": "Not part of the provider network"}, "1300"),  # v0.1
        ({"code": "1300"}, "1300"),
    ],
)
def test_the_code_is_read_from_type_then_title_then_code(error: dict[str, Any], code: str) -> None:
    assert vonage.parse(body(status="rejected", error=error), OPTS).error_code == code


def test_an_expiry_code_makes_a_failure_expired() -> None:
    # 1360 "TTL was activated": the message's time to live ran out.
    for word in ("rejected", "undeliverable"):
        r = vonage.parse(body(status=word, error=problem(1360, "TTL was activated")), OPTS)
        assert (r.status, r.final, r.provider_status, r.error_code, r.error_category) == (
            Status.EXPIRED, True, word, "1360", ErrorCategory.EXPIRED)
    # Only a failure word: a submitted message in its retry scheme stays submitted.
    r = vonage.parse(body(status="submitted", error=problem(1360)), OPTS)
    assert (r.status, r.final) == (Status.SENT, False)
    assert vonage.FAILURE_CODE_STATUSES == {"1360": (Status.EXPIRED, True)}


def test_an_unknown_carrier_error_is_still_a_failure() -> None:
    # 1330 "Unknown": the carrier reported a failure of unknown cause, not an unknown outcome.
    r = vonage.parse(body(status="rejected", error=problem(1330, "Unknown")), OPTS)
    assert (r.status, r.final, r.error_code, r.error_category, r.retryable) == (
        Status.REJECTED, True, "1330", ErrorCategory.GENERIC, False)


def test_an_unknown_code_is_kept_without_a_category() -> None:
    r = vonage.parse(body(status="rejected", error=problem(1999, "Something new")), OPTS)
    assert (r.status, r.final, r.error_code, r.error_category, r.retryable) == (
        Status.REJECTED, True, "1999", None, None)
    assert r.warnings == ("error: unknown '1999', kept without a category",)


@pytest.mark.parametrize(
    ("error", "warnings"),
    [
        (None, ()),
        ({}, ()),
        ("1320", ("error: not an object '1320', ignored",)),
        ([1320], ("error: not an object [1320], ignored",)),
        ({"title": "Rate Limit Hit", "detail": "Please wait"},
         ("error: no code in {'title': 'Rate Limit Hit', 'detail': 'Please wait'}, ignored",)),
        ({"type": "https://x.example#out-of-credit", "title": True},
         ("error: no code in {'type': 'https://x.example#out-of-credit', 'title': True}, ignored",)),
    ],
)
def test_an_unreadable_error_is_ignored_and_noted(error: object, warnings: tuple[str, ...]) -> None:
    r = vonage.parse(body(status="rejected", error=error), OPTS)
    assert (r.status, r.error_code, r.error_category, r.warnings) == (Status.REJECTED, None, None, warnings)


# --- what is tolerated -------------------------------------------------------------------------


def test_a_missing_or_unreadable_timestamp_falls_back_to_the_received_time() -> None:
    r = vonage.parse(body(timestamp=None), OPTS)
    assert (r.status, r.event_time, r.raw_time, r.warnings) == (
        Status.DELIVERED, RECEIVED, None, ("timestamp: missing; event time from the received time",))
    r = vonage.parse(body(timestamp="yesterday"), OPTS)
    assert (r.event_time, r.warnings) == (
        RECEIVED, ("timestamp: unreadable 'yesterday'; event time from the received time",))
    r = vonage.parse(body(timestamp={"at": 1}), OPTS)
    assert (r.event_time, r.warnings) == (
        RECEIVED, ("timestamp: not text {'at': 1}, ignored", "timestamp: missing; event time from the received time"))
    assert reason(body(timestamp=None), Options()) == "timestamp missing, and no received time to fall back on"


def test_a_timestamp_with_an_offset_keeps_it() -> None:
    r = vonage.parse(body(timestamp="2026-03-12T11:14:25+02:00"), OPTS)
    assert r.event_time == utc(2026, 3, 12, 9, 14, 25)


@pytest.mark.parametrize(
    ("usage", "price", "warnings"),
    [
        ({"currency": "EUR", "price": 0.0333}, "0.0333", ()),  # a number, as some senders write it
        ({"currency": "EUR"}, None, ()),
        ({"currency": "EUR", "price": "not-a-number"}, None, ("usage.price: not a decimal 'not-a-number', ignored",)),
        ({"price": {"EUR": 1}}, None, ("usage.price: not text {'EUR': 1}, ignored",)),
        ("0.0333", None, ("usage: not an object '0.0333', ignored",)),
    ],
)
def test_an_unreadable_price_is_null_and_noted(usage: object, price: str | None, warnings: tuple[str, ...]) -> None:
    r = vonage.parse(body(usage=usage), OPTS)
    assert (r.status, r.message_id, r.price, r.warnings) == (Status.DELIVERED, UUID, price, warnings)


def test_an_unreadable_reference_is_null_and_noted() -> None:
    r = vonage.parse(body(client_ref={"ref": 1}), OPTS)
    assert (r.reference, r.warnings) == (None, ("client_ref: not text {'ref': 1}, ignored",))


def test_no_phone_number_or_channel_is_kept() -> None:
    r = vonage.parse(body(), OPTS)
    assert "447700900000" not in repr(r) and "447700900001" not in repr(r) and "sms" not in repr(r)


# --- what is still a dead letter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (body(message_uuid=""), "missing field 'message_uuid'"),
        (body(message_uuid=None, messageId=None, status="delivered"), "missing field 'messageId'"),
        (body(message_uuid={"id": 1}), "field 'message_uuid' is a dict, expected text"),
        (body(status=None), "missing field 'status'"),
        (body(status="failed"), "unknown vonage status 'failed'"),  # the SMS API's word
        (body(status="DELIVRD"), "unknown vonage status 'DELIVRD'"),
        (body(status="accepted"), "unknown vonage status 'accepted'"),
        (body(messageId="1A0000000F3C2B71"),
         "both messageId (SMS API) and message_uuid (Messages API): which message is it?"),
    ],
)
def test_errors_say_why(payload: bytes, expected: str) -> None:
    assert reason(payload) == expected


def test_the_deployments_mappings_come_first() -> None:
    mappings = Mappings(
        statuses={"vonage": {"failed": (Status.UNDELIVERED, True)}},
        errors={"vonage": {"1999": (ErrorCategory.ROUTING, None), "1000": (ErrorCategory.NETWORK, False)}})
    options = Options(received_at=RECEIVED, mappings=mappings)
    r = vonage.parse(body(status="failed", error=problem(1999)), options)
    assert (r.status, r.final, r.error_code, r.error_category, r.retryable, r.warnings) == (
        Status.UNDELIVERED, True, "1999", ErrorCategory.ROUTING, False, ())
    r = vonage.parse(body(status="rejected", error=problem(1000)), options)
    assert (r.error_category, r.retryable) == (ErrorCategory.NETWORK, False)


def test_through_the_provider_registry() -> None:
    assert normalize("vonage", body(status="read"), OPTS).message_key == f"vonage:{UUID}"


# --- the webhook's signature -------------------------------------------------------------------


def signed(payload: bytes, secret: str = "sig-secret", **claims: Any) -> Incoming:
    # The claims Vonage's signed-webhooks page names: api_key (which secret signed it) and
    # payload_hash (SHA-256 of the payload); iat as any JWT.
    token = sign_hs256({"iat": 1773306851, "api_key": "a1b2c3d4",
                        "payload_hash": hashlib.sha256(payload).hexdigest(), **claims}, secret)
    return Incoming("POST", "/dlr/vonage", "", {"authorization": f"Bearer {token}",
                                                 "content-type": "application/json"}, payload)


def test_a_status_webhook_signed_with_the_signature_secret_is_accepted() -> None:
    payload = body(status="rejected", error=problem(1360))
    webhook.verify(signed(payload), "sig-secret")
    webhook.verify(signed(payload), "sig-secret", "md5hash")  # the dashboard's method plays no part
    with pytest.raises(SignatureError, match="JWT signature"):
        webhook.verify(signed(payload, "other-secret"), "sig-secret")
    with pytest.raises(SignatureError, match="payload_hash does not match"):
        webhook.verify(signed(payload, payload_hash=hashlib.sha256(b"{}").hexdigest()), "sig-secret")
    with pytest.raises(SignatureError, match="JWT has no payload_hash"):
        webhook.verify(signed(payload, payload_hash=None), "sig-secret")


def test_the_jwt_decides_even_when_the_body_is_not_json() -> None:
    # The token signs the bytes: a body the parser will dead-letter is still Vonage's.
    webhook.verify(signed(b'{"message_uuid": "broken'), "sig-secret")
    unsigned = Incoming("POST", "/dlr/vonage", "", {}, b'{"message_uuid": "broken')
    with pytest.raises(SignatureError, match="invalid JSON"):
        webhook.verify(unsigned, "sig-secret")


# --- hypothesis --------------------------------------------------------------------------------

FIELDS = ["message_uuid", "status", "timestamp", "error", "usage", "client_ref", "channel", "to", "from", "messageId"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from([*STATUSES, UUID, "2026-03-12T09:14:25Z", "0.0333", "1360", 1360,
                       "https://developer.nexmo.com/api-errors/messages-olympus#1330"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "title", "code", "price", "currency", "x"]), inner, max_size=4),
    max_leaves=8,
)


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS), values), st.booleans())
def test_arbitrary_json_objects(fields: dict[str, Any], received: bool) -> None:
    try:
        assert isinstance(vonage.parse(json.dumps(fields).encode(), OPTS if received else Options()), Receipt)
    except ReceiptError as exc:
        assert str(exc)


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(FIELDS[2:-1]), values), st.sampled_from(list(STATUSES)))
def test_a_clear_id_and_status_is_never_sunk_by_the_rest(rest: dict[str, Any], word: str) -> None:
    r = vonage.parse(json.dumps({**rest, "message_uuid": UUID, "status": word}).encode(), OPTS)
    assert (r.message_id, r.provider_status) == (UUID, word)
    assert r.status in {STATUSES[word][0], Status.EXPIRED}
    assert all(w.split(":", 1)[0] in {"timestamp", "error", "usage", "usage.price", "client_ref"} for w in r.warnings)
