"""The webhook edge without a server: signatures (built in each test from the
provider's documented scheme), request validation, envelope fields, the route
table, metrics text, readiness and fold lag."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

from streams import codec, providers, samples
from streams.pipeline.metrics import Histogram, Metrics
from streams.topics import DEAD_LETTER, RECEIPTS, STATUS_CHANGES
from streams.webhooks import health, receive, signatures
from streams.webhooks.receive import Incoming, Refused, WebhookConfig
from streams.webhooks.routes import ROUTES
from streams.webhooks.signatures import SignatureError

# GatewayAPI's own example (onlinecity/gatewayapi-docs docs/rest.rst, "Authentication
# token"): this token, verified with the secret "secret" as HS256.
GWAPI_DOC_TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpZCI6MjM4MTcwMywibXNpc2RuIjo0NTQyNjA5MDQ1LCJ0aW1lIjoxNTIyNzY0MDYyLCJz"
    "dGF0dXMiOiJERUxJVkVSRUQiLCJlcnJvciI6bnVsbCwiY29kZSI6bnVsbCwidXNlcnJlZiI6bnVsbCwiY2FsbGJhY2tfdXJsIjoiaHR0cDov"
    "L2JiYWY3MTQyLm5ncm9rLmlvIiwiYXBpIjo0fQ.KdfDH65bnQtgxEkFnpAQodOciAJedZFB13r9wEo8t3Y"
)
GWAPI_DOC_BODY = {"id": 2381703, "msisdn": 4542609045, "time": 1522764062, "status": "DELIVERED",
                  "error": None, "code": None, "userref": None}


def post(body: bytes | str, headers: dict[str, str] | None = None, path: str = "/dlr/x") -> Incoming:
    raw = body.encode() if isinstance(body, str) else body
    return Incoming("POST", path, "", {k.lower(): v for k, v in (headers or {}).items()}, raw, "10.0.0.1", 1)


def get(query: str, headers: dict[str, str] | None = None, path: str = "/dlr/x") -> Incoming:
    return Incoming("GET", path, query, {k.lower(): v for k, v in (headers or {}).items()}, b"", "10.0.0.1", 1)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, Any], secret: str, alg: str = "HS256") -> str:
    """A JWT made by hand, as jwt.io describes it (independent of the code under test)."""
    head = b64url(json.dumps({"typ": "JWT", "alg": alg}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


# --- GatewayAPI ------------------------------------------------------------------------


def test_gatewayapi_documented_token_verifies() -> None:
    claims = signatures.verify_hs256(GWAPI_DOC_TOKEN, "secret")
    assert claims["id"] == 2381703 and claims["status"] == "DELIVERED"
    signatures.gatewayapi(post(json.dumps(GWAPI_DOC_BODY), {"X-Gwapi-Signature": GWAPI_DOC_TOKEN}), "secret")


@pytest.mark.parametrize("reason, token, body, secret", [
    ("wrong secret", GWAPI_DOC_TOKEN, GWAPI_DOC_BODY, "Secret"),
    ("body says another status", GWAPI_DOC_TOKEN, {**GWAPI_DOC_BODY, "status": "UNDELIVERABLE"}, "secret"),
    ("body is another message", GWAPI_DOC_TOKEN, {**GWAPI_DOC_BODY, "id": 2381704}, "secret"),
    ("token without the message", jwt({"iat": 1}, "secret"), GWAPI_DOC_BODY, "secret"),
    ("alg none", jwt(GWAPI_DOC_BODY, "secret", alg="none").rsplit(".", 1)[0] + ".", GWAPI_DOC_BODY, "secret"),
    ("HS512 not taken", jwt(GWAPI_DOC_BODY, "secret", alg="HS512"), GWAPI_DOC_BODY, "secret"),
    ("tampered payload", GWAPI_DOC_TOKEN.replace(".eyJpZCI6MjM4MTcwMy", ".eyJpZCI6MjM4MTcwNC"), GWAPI_DOC_BODY,
     "secret"),
    ("not a JWT", "abc", GWAPI_DOC_BODY, "secret"),
    ("expired", jwt({**GWAPI_DOC_BODY, "exp": 1_000_000}, "secret"), GWAPI_DOC_BODY, "secret"),
])
def test_gatewayapi_jwt_refused(reason: str, token: str, body: dict[str, Any], secret: str) -> None:
    with pytest.raises(SignatureError) as refused:
        signatures.gatewayapi(post(json.dumps(body), {"X-Gwapi-Signature": token}), secret)
    assert "\n" not in str(refused.value) and token not in str(refused.value)


def test_gatewayapi_jwt_over_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(SignatureError, match="not JSON"):
        signatures.gatewayapi(post("id:1 stat:DELIVRD", {"X-Gwapi-Signature": GWAPI_DOC_TOKEN}), "secret")


def test_gatewayapi_missing_signature_refused() -> None:
    with pytest.raises(SignatureError, match="missing X-Gwapi-Signature"):
        signatures.gatewayapi(post(json.dumps(GWAPI_DOC_BODY)), "secret")


def test_gatewayapi_messaging_signature_v1() -> None:
    body = b'{"event_id":"e1","event_type":"message.status.sms","event":{"msg_id":"01J","status":"DELIVERED"}}'
    good = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    signatures.gatewayapi(post(body, {"Signature": f"v1={good}"}), "k3y")
    signatures.gatewayapi(post(body, {"Signature": f"v1={good.upper()}"}), "k3y")
    signatures.gatewayapi(post(body, {"Signature": f"v1=00ff, v1={good}"}), "k3y")  # rotation: any v1
    for bad in (f"v1={good[:-1]}0", f"v2={good}", good, "v1="):
        with pytest.raises(SignatureError, match="does not match"):
            signatures.gatewayapi(post(body, {"Signature": bad}), "k3y")
    with pytest.raises(SignatureError):
        signatures.gatewayapi(post(body + b" ", {"Signature": f"v1={good}"}), "k3y")


# --- Messente ---------------------------------------------------------------------------


def test_messente_signature() -> None:
    body = samples.lines("messente")[0]
    good = hmac.new(b"api-password", body, hashlib.sha256).hexdigest()
    signatures.messente(post(body, {"X-Messente-Signature": good}), "api-password")
    with pytest.raises(SignatureError, match="does not match"):
        signatures.messente(post(body, {"X-Messente-Signature": good}), "other")
    with pytest.raises(SignatureError, match="does not match"):
        signatures.messente(post(body.replace(b"ACK", b"NACK"), {"X-Messente-Signature": good}), "api-password")
    with pytest.raises(SignatureError, match="missing X-Messente-Signature"):
        signatures.messente(post(body), "api-password")
    with pytest.raises(SignatureError, match="legacy GET"):
        signatures.messente(get("sms_unique_id=a&stat=DELIVRD"), "api-password")


# --- Vonage -----------------------------------------------------------------------------

VONAGE = {"messageId": "1A0000000F3C2B71", "status": "delivered", "client-ref": "a=b&c",
          "timestamp": "1773306851", "nonce": "6a1b7f"}
# The string Vonage signs: every parameter but sig, sorted, "&name=value", '&' and '='
# in values made '_' (developer.vonage.com signing-messages, "manually generate").
VONAGE_SIGNED = "&client-ref=a_b_c&messageId=1A0000000F3C2B71&nonce=6a1b7f&status=delivered&timestamp=1773306851"


@pytest.mark.parametrize("method, expected", [
    ("md5hash", hashlib.md5((VONAGE_SIGNED + "sig-secret").encode()).hexdigest()),
    ("md5", hmac.new(b"sig-secret", VONAGE_SIGNED.encode(), hashlib.md5).hexdigest()),
    ("sha1", hmac.new(b"sig-secret", VONAGE_SIGNED.encode(), hashlib.sha1).hexdigest()),
    ("sha256", hmac.new(b"sig-secret", VONAGE_SIGNED.encode(), hashlib.sha256).hexdigest()),
    ("sha512", hmac.new(b"sig-secret", VONAGE_SIGNED.encode(), hashlib.sha512).hexdigest()),
])
def test_vonage_sig_each_method(method: str, expected: str) -> None:
    assert signatures.vonage_signature({**VONAGE, "sig": "ignored"}, "sig-secret", method) == expected
    from urllib.parse import urlencode

    signed = {**VONAGE, "sig": expected.upper()}  # Vonage sends HMAC signatures in upper case
    signatures.vonage(get(urlencode(signed)), "sig-secret", method)
    signatures.vonage(post(json.dumps(signed), {"Content-Type": "application/json"}), "sig-secret", method)
    signatures.vonage(post(urlencode(signed), {"Content-Type": "application/x-www-form-urlencoded"}),
                      "sig-secret", method)
    with pytest.raises(SignatureError, match="does not match"):
        signatures.vonage(get(urlencode({**signed, "status": "failed"})), "sig-secret", method)
    with pytest.raises(SignatureError, match="does not match"):
        signatures.vonage(get(urlencode(signed)), "other-secret", method)


def test_vonage_missing_sig_refused() -> None:
    from urllib.parse import urlencode

    with pytest.raises(SignatureError, match="missing vonage sig"):
        signatures.vonage(get(urlencode(VONAGE)), "sig-secret")


def test_vonage_messages_api_jwt() -> None:
    body = b'{"message_uuid":"aaaaaaaa-bbbb","status":"delivered"}'
    token = jwt({"iat": 1, "payload_hash": hashlib.sha256(body).hexdigest(), "api_key": "k"}, "sig-secret")
    signatures.vonage(post(body, {"Authorization": f"Bearer {token}"}), "sig-secret")
    with pytest.raises(SignatureError, match="payload_hash does not match"):
        signatures.vonage(post(body.replace(b"delivered", b"rejected"), {"Authorization": f"Bearer {token}"}),
                          "sig-secret")
    with pytest.raises(SignatureError, match="JWT signature"):
        signatures.vonage(post(body, {"Authorization": f"Bearer {token}"}), "other")
    no_hash = jwt({"iat": 1}, "sig-secret")
    with pytest.raises(SignatureError, match="no payload_hash"):
        signatures.vonage(post(body, {"Authorization": f"Bearer {no_hash}"}), "sig-secret")
    with pytest.raises(SignatureError, match="only accepted on a POST"):
        signatures.vonage(get("status=delivered", {"Authorization": f"Bearer {token}"}), "sig-secret")


def test_sign_hs256_round_trip() -> None:
    token = signatures.sign_hs256({"id": 1, "status": "DELIVERED"}, "s")
    assert signatures.verify_hs256(token, "s") == {"id": 1, "status": "DELIVERED"}
    assert signatures.verify_hs256(f"Bearer {token}", "s")["id"] == 1


# --- routes -----------------------------------------------------------------------------


def test_every_provider_has_a_route() -> None:
    assert set(ROUTES) == set(providers.names())
    assert ROUTES["gatewayapi"].methods == ("POST",)
    assert ROUTES["messente"].methods == ("GET", "POST")
    assert ROUTES["labsmobile"].methods == ("GET",)
    assert ROUTES["vonage"].methods == ("GET", "POST")
    assert ROUTES["smpp"].methods == ("POST",)
    assert {r.path for r in ROUTES.values()} == {f"/dlr/{p}" for p in providers.names()}


def test_route_verifies_only_with_a_secret() -> None:
    unsigned = post(json.dumps(GWAPI_DOC_BODY))
    ROUTES["gatewayapi"].verify(unsigned, WebhookConfig())  # no secret: accepted
    with pytest.raises(SignatureError):
        ROUTES["gatewayapi"].verify(unsigned, WebhookConfig(secrets={"gatewayapi": "secret"}))
    # providers that sign nothing are never refused for a signature
    ROUTES["labsmobile"].verify(get("a=b"), WebhookConfig(secrets={"labsmobile": "x"}))
    ROUTES["smpp"].verify(post("id:1"), WebhookConfig(secrets={"smpp": "x"}))


def test_config_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLR_SECRET_VONAGE", "v")
    monkeypatch.setenv("DLR_VONAGE_SIGNATURE_METHOD", "SHA256")
    monkeypatch.setenv("DLR_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("DLR_WEBHOOK_TIMEOUT", "2.5")
    monkeypatch.delenv("DLR_SECRET_GATEWAYAPI", raising=False)
    monkeypatch.delenv("DLR_SECRET_MESSENTE", raising=False)
    assert WebhookConfig.from_settings() == WebhookConfig({"vonage": "v"}, "sha256", 1024, 2.5)
    monkeypatch.setenv("DLR_VONAGE_SIGNATURE_METHOD", "crc32")
    with pytest.raises(SystemExit):
        WebhookConfig.from_settings()


# --- validation ---------------------------------------------------------------------------


def refusal(call: Any, *args: Any) -> Refused:
    with pytest.raises(Refused) as refused:
        call(*args)
    assert refused.value.reason and "\n" not in refused.value.reason
    return refused.value


def test_wrong_method_is_405_with_allow() -> None:
    refused = refusal(receive.check_method, "PUT", ("GET", "POST"), "/dlr/vonage")
    assert refused.status == 405 and refused.headers == {"Allow": "GET, POST"}
    assert "PUT" in refused.reason
    receive.check_method("GET", ("GET", "POST"), "/dlr/vonage")


def test_oversized_is_413() -> None:
    assert refusal(receive.check_length, 70_000, 65_536).status == 413
    receive.check_length(None, 65_536)
    receive.check_length(65_536, 65_536)
    assert refusal(receive.payload, post(b"x" * 101), 100).status == 413
    assert refusal(receive.payload, get("a=" + "x" * 100), 100).status == 413
    assert receive.payload(post(b"x" * 100), 100) == b"x" * 100


def test_not_utf8_is_400() -> None:
    refused = refusal(receive.payload, post(b'{"id":"caf\xe9"}'), 1000)
    assert refused.status == 400 and "UTF-8" in refused.reason and "caf" not in refused.reason
    assert refusal(receive.payload, get("stat=caf%E9"), 1000).status == 400  # percent-escaped latin-1
    assert refusal(receive.payload, get("stat=caf\udce9"), 1000).status == 400  # raw byte, surrogate-escaped
    assert receive.payload(get("desc=caf%C3%A9"), 1000) == b"desc=caf%C3%A9"


def test_empty_is_400() -> None:
    assert refusal(receive.payload, post(b"  \n"), 1000).status == 400
    assert refusal(receive.payload, get(""), 1000).status == 400


def test_payload_is_query_for_get_and_body_for_post() -> None:
    for provider in ("labsmobile", "vonage", "messente"):
        line = next(x for x in samples.lines(provider) if not x.startswith(b"{"))
        payload = receive.payload(get(line.decode()), 65536)
        assert payload == line
        providers.normalize(provider, payload, providers.Options(received_at=0))  # the parser reads it as is
    body = samples.lines("smpp")[0]
    assert receive.payload(post(body), 65536) == body


def test_envelope_fields() -> None:
    incoming = Incoming(
        "GET", "/dlr/labsmobile", "subid=1&status=Sent",
        {"user-agent": "LabsMobile", "authorization": "Basic c2VjcmV0", "cookie": "a=b",
         "x-forwarded-for": "203.0.113.9"},
        b"", "10.1.2.3", 1_773_000_000_000_000,
    )
    value = receive.envelope_value("labsmobile", incoming, b"subid=1&status=Sent")
    name, record = codec.decode(value, expect="RawReceipt")
    assert name == "RawReceipt"
    assert record["provider"] == "labsmobile" and record["transport"] == "http"
    assert record["payload"] == b"subid=1&status=Sent"
    assert record["method"] == "GET" and record["path"] == "/dlr/labsmobile"
    assert record["query"] == "subid=1&status=Sent" and record["content_type"] is None
    assert record["headers"] == {"user-agent": "LabsMobile", "x-forwarded-for": "203.0.113.9"}
    assert record["remote_addr"] == "10.1.2.3" and record["received_at"] == 1_773_000_000_000_000

    body = samples.lines("gatewayapi")[0]
    value = receive.envelope_value("gatewayapi", post(body, {"Content-Type": "application/json",
                                                            "X-Gwapi-Signature": "t"}), body)
    _, record = codec.decode(value, expect="RawReceipt")
    assert record["payload"] == body and record["query"] is None and record["method"] == "POST"
    assert record["content_type"] == "application/json"
    assert record["headers"] == {"content-type": "application/json", "x-gwapi-signature": "t"}


# --- metrics ------------------------------------------------------------------------------


def test_metrics_counters_and_text() -> None:
    metrics = Metrics()
    metrics.normalized("vonage", False)
    metrics.normalized("vonage", True)
    metrics.normalized("smpp", False)
    metrics.emitted(STATUS_CHANGES, "DELIVERED")
    metrics.emitted(STATUS_CHANGES, "DELIVERED")
    metrics.emitted(STATUS_CHANGES)  # the call the agents make today still counts the topic
    metrics.emitted(DEAD_LETTER)
    metrics.webhook("vonage", 200, 0.004)
    metrics.webhook("vonage", 401, 0.0001)
    text = metrics.render([("dlr_fold_lag_records", "lag", {(("partition", "0"),): 3})])
    lines = set(text.splitlines())
    for expected in [
        'dlr_receipts_in_total{provider="vonage"} 2',
        'dlr_normalized_total{provider="vonage"} 1',
        'dlr_normalized_total{provider="smpp"} 1',
        'dlr_dead_lettered_total{stage="normalize",provider="vonage"} 1',
        'dlr_dead_lettered_total{stage="fold",provider=""} 1',
        'dlr_status_changes_total{status="DELIVERED"} 2',
        'dlr_emitted_total{topic="dlr.status-changes"} 3',
        'dlr_webhook_requests_total{provider="vonage",code="200"} 1',
        'dlr_webhook_requests_total{provider="vonage",code="401"} 1',
        'dlr_webhook_request_seconds_bucket{provider="vonage",le="0.001"} 1',
        'dlr_webhook_request_seconds_bucket{provider="vonage",le="0.005"} 2',
        'dlr_webhook_request_seconds_bucket{provider="vonage",le="+Inf"} 2',
        'dlr_webhook_request_seconds_count{provider="vonage"} 2',
        "# TYPE dlr_webhook_request_seconds histogram",
        "# TYPE dlr_fold_lag_records gauge",
        'dlr_fold_lag_records{partition="0"} 3',
    ]:
        assert expected in lines, expected
    assert text.endswith("\n")


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.1", 2), ("1", 3), ("+Inf", 4)]
    assert histogram.count == 4 and histogram.sum == pytest.approx(3.65)


def test_metrics_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.normalized('we"ird\\na\nme', False)
    assert 'dlr_receipts_in_total{provider="we\\"ird\\\\na\\nme"} 1' in metrics.render()


# --- readiness and fold lag -----------------------------------------------------------------


class TP(NamedTuple):
    topic: str
    partition: int


class Event:
    def __init__(self, value: bool) -> None:
        self.value = value

    def is_set(self) -> bool:
        return self.value


def fake_app(*, rebalancing: bool = False, completed: bool = True, actives: bool = True,
             assignment: set[Any] | None = None, highwater: dict[Any, int] | None = None,
             committed: dict[Any, int | None] | None = None) -> Any:
    tps = assignment if assignment is not None else {TP(RECEIPTS, 0)}
    marks = highwater or {}

    def high(tp: Any) -> int:
        if tp not in marks:
            raise AssertionError("Partition is not assigned")
        return marks[tp]

    consumer = SimpleNamespace(assignment=lambda: tps, highwater=high, _committed_offset=committed or {})
    tables = SimpleNamespace(recovery=SimpleNamespace(completed=Event(completed)), actives_ready=actives)
    return SimpleNamespace(rebalancing=rebalancing, tables=tables, consumer=consumer)


def test_readiness() -> None:
    assert health.readiness(fake_app()) == (True, "ready")
    assert health.readiness(fake_app(rebalancing=True)) == (False, "rebalancing")
    assert health.readiness(fake_app(completed=False)) == (False, "table recovery not completed")
    assert health.readiness(fake_app(actives=False)) == (False, "tables not up to date")
    assert health.readiness(fake_app(assignment=set())) == (False, "no partitions assigned")
    assert health.readiness(SimpleNamespace(rebalancing=False))[0] is False  # no tables yet: not ready


def test_fold_lag() -> None:
    r0, r1, r2 = (TP(RECEIPTS, p) for p in range(3))
    raw = TP("dlr.raw.smpp", 0)
    app = fake_app(assignment={r0, r1, r2, raw}, highwater={r0: 10, r1: 5, raw: 99},
                   committed={r0: 7, r1: None})
    assert health.fold_lag(app) == {0: 3, 1: 5}  # r2 not fetched yet; raw topics are not the fold
    assert health.fold_lag(SimpleNamespace()) == {}


def test_record_key_is_the_message_key_when_the_payload_parses() -> None:
    line = samples.lines("labsmobile")[0]
    expected = providers.normalize("labsmobile", line, providers.Options(received_at=0)).message_key.encode()
    assert receive.record_key("labsmobile", line) == expected
    # every receipt of one message gets the same key, whatever its status
    keys = {receive.record_key("gatewayapi", x) for x in samples.lines("gatewayapi")[:5] if b"4283917401" in x}
    assert len(keys) == 1 and None not in keys
    assert receive.record_key("smpp", b"not a receipt") is None


# --- the view's write path, with a stand-in topic ---------------------------------------------


class StubTopic:
    """Topic.send as Faust's: returns the delivery future; `ack` says how it ends."""

    def __init__(self, ack: str) -> None:
        self.ack = ack
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, *, key: bytes | None, value: bytes, force: bool) -> Any:
        import asyncio

        assert force  # no attachment to an agent's event
        if self.ack == "raise":
            raise ConnectionError("broker gone")
        self.sent.append((key, value))
        delivery = asyncio.get_running_loop().create_future()
        if self.ack == "ok":
            delivery.set_result(object())
        elif self.ack == "error":
            delivery.set_exception(RuntimeError("NotEnoughReplicas"))
        return delivery  # "never": not acked within the timeout


def receive_get(ack: str, query: str, timeout: float = 0.05) -> tuple[int, str, StubTopic]:
    import asyncio

    from aiohttp.test_utils import make_mocked_request

    from streams.webhooks import _receive

    topic = StubTopic(ack)
    request = make_mocked_request("GET", f"/dlr/labsmobile?{query}")
    config = WebhookConfig(timeout=timeout)
    try:
        response = asyncio.run(_receive(ROUTES["labsmobile"], topic, config, request))
    except Refused as refused:
        return refused.status, refused.reason, topic
    return response.status, response.text or "", topic


def test_answered_200_only_once_kafka_acked() -> None:
    line = samples.lines("labsmobile")[0].decode()
    status, text, topic = receive_get("ok", line)
    assert (status, text) == (200, "")
    [(key, value)] = topic.sent
    assert key == receive.record_key("labsmobile", line.encode())
    assert codec.decode(value, expect="RawReceipt")[1]["payload"] == line.encode()


@pytest.mark.parametrize("ack, reason", [
    ("never", "did not acknowledge"), ("error", "RuntimeError"), ("raise", "ConnectionError")])
def test_answered_503_when_kafka_does_not_ack(ack: str, reason: str) -> None:
    status, text, _ = receive_get(ack, samples.lines("labsmobile")[0].decode())
    assert status == 503 and reason in text and "\n" not in text


def test_refused_requests_are_never_sent() -> None:
    status, _, topic = receive_get("ok", "")
    assert status == 400 and topic.sent == []
