"""The webhook edge without a server: signatures (built in each test from the
provider's documented scheme), request validation, envelope fields, the route
table, metrics text, readiness, consumer and fold lag, table recovery."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

from streams.core import providers, samples
from streams.core.model import ErrorCategory, Receipt, Status
from streams.core.providers import _http
from streams.core.providers._http import SignatureError
from streams.core.providers.gatewayapi import webhook as gatewayapi
from streams.core.providers.messente import webhook as messente
from streams.core.providers.vonage import webhook as vonage
from streams.serde import codec
from streams.topics import DEAD_LETTER, RECEIPTS, REPARTITION, STATUS_CHANGES, raw_topic
from streams.worker.metrics import Histogram, Metrics
from streams.worker.webhooks import _gauges, health, receive
from streams.worker.webhooks.receive import Incoming, Refused, WebhookConfig
from streams.worker.webhooks.routes import ROUTES

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
    claims = _http.verify_hs256(GWAPI_DOC_TOKEN, "secret")
    assert claims["id"] == 2381703 and claims["status"] == "DELIVERED"
    gatewayapi.verify(post(json.dumps(GWAPI_DOC_BODY), {"X-Gwapi-Signature": GWAPI_DOC_TOKEN}), "secret")


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
        gatewayapi.verify(post(json.dumps(body), {"X-Gwapi-Signature": token}), secret)
    assert "\n" not in str(refused.value) and token not in str(refused.value)


def test_gatewayapi_jwt_over_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(SignatureError, match="not JSON"):
        gatewayapi.verify(post("id:1 stat:DELIVRD", {"X-Gwapi-Signature": GWAPI_DOC_TOKEN}), "secret")


def test_gatewayapi_missing_signature_refused() -> None:
    with pytest.raises(SignatureError, match="missing X-Gwapi-Signature"):
        gatewayapi.verify(post(json.dumps(GWAPI_DOC_BODY)), "secret")


def test_gatewayapi_messaging_signature_v1() -> None:
    body = b'{"event_id":"e1","event_type":"message.status.sms","event":{"msg_id":"01J","status":"DELIVERED"}}'
    good = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    gatewayapi.verify(post(body, {"Signature": f"v1={good}"}), "k3y")
    gatewayapi.verify(post(body, {"Signature": f"v1={good.upper()}"}), "k3y")
    gatewayapi.verify(post(body, {"Signature": f"v1=00ff, v1={good}"}), "k3y")  # rotation: any v1
    for bad in (f"v1={good[:-1]}0", f"v2={good}", good, "v1="):
        with pytest.raises(SignatureError, match="does not match"):
            gatewayapi.verify(post(body, {"Signature": bad}), "k3y")
    with pytest.raises(SignatureError):
        gatewayapi.verify(post(body + b" ", {"Signature": f"v1={good}"}), "k3y")


# --- Messente ---------------------------------------------------------------------------


def test_messente_signature() -> None:
    body = samples.lines("messente")[0]
    good = hmac.new(b"api-password", body, hashlib.sha256).hexdigest()
    messente.verify(post(body, {"X-Messente-Signature": good}), "api-password")
    with pytest.raises(SignatureError, match="does not match"):
        messente.verify(post(body, {"X-Messente-Signature": good}), "other")
    with pytest.raises(SignatureError, match="does not match"):
        messente.verify(post(body.replace(b"ACK", b"NACK"), {"X-Messente-Signature": good}), "api-password")
    with pytest.raises(SignatureError, match="missing X-Messente-Signature"):
        messente.verify(post(body), "api-password")
    with pytest.raises(SignatureError, match="legacy GET"):
        messente.verify(get("sms_unique_id=a&stat=DELIVRD"), "api-password")


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
    assert vonage.signature({**VONAGE, "sig": "ignored"}, "sig-secret", method) == expected
    from urllib.parse import urlencode

    signed = {**VONAGE, "sig": expected.upper()}  # Vonage sends HMAC signatures in upper case
    vonage.verify(get(urlencode(signed)), "sig-secret", method)
    vonage.verify(post(json.dumps(signed), {"Content-Type": "application/json"}), "sig-secret", method)
    vonage.verify(post(urlencode(signed), {"Content-Type": "application/x-www-form-urlencoded"}),
                      "sig-secret", method)
    with pytest.raises(SignatureError, match="does not match"):
        vonage.verify(get(urlencode({**signed, "status": "failed"})), "sig-secret", method)
    with pytest.raises(SignatureError, match="does not match"):
        vonage.verify(get(urlencode(signed)), "other-secret", method)


def test_vonage_missing_sig_refused() -> None:
    from urllib.parse import urlencode

    with pytest.raises(SignatureError, match="missing vonage sig"):
        vonage.verify(get(urlencode(VONAGE)), "sig-secret")


def test_vonage_messages_api_jwt() -> None:
    body = b'{"message_uuid":"aaaaaaaa-bbbb","status":"delivered"}'
    token = jwt({"iat": 1, "payload_hash": hashlib.sha256(body).hexdigest(), "api_key": "k"}, "sig-secret")
    vonage.verify(post(body, {"Authorization": f"Bearer {token}"}), "sig-secret")
    with pytest.raises(SignatureError, match="payload_hash does not match"):
        vonage.verify(post(body.replace(b"delivered", b"rejected"), {"Authorization": f"Bearer {token}"}),
                          "sig-secret")
    with pytest.raises(SignatureError, match="JWT signature"):
        vonage.verify(post(body, {"Authorization": f"Bearer {token}"}), "other")
    no_hash = jwt({"iat": 1}, "sig-secret")
    with pytest.raises(SignatureError, match="no payload_hash"):
        vonage.verify(post(body, {"Authorization": f"Bearer {no_hash}"}), "sig-secret")
    with pytest.raises(SignatureError, match="only accepted on a POST"):
        vonage.verify(get("status=delivered", {"Authorization": f"Bearer {token}"}), "sig-secret")


def test_sign_hs256_round_trip() -> None:
    token = _http.sign_hs256({"id": 1, "status": "DELIVERED"}, "s")
    assert _http.verify_hs256(token, "s") == {"id": 1, "status": "DELIVERED"}
    assert _http.verify_hs256(f"Bearer {token}", "s")["id"] == 1


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
    expected = WebhookConfig({"vonage": "v"}, {"vonage_signature_method": "sha256"}, 1024, 2.5)
    assert WebhookConfig.from_settings() == expected
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


_SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def exposition(text: str) -> set[Any]:
    """The lines of an exposition, a sample as (name, labels in any order,
    value as a number): prometheus_client writes 4 as 4.0 and sorts labels."""
    return {canon(line) for line in text.splitlines()}


def canon(line: str) -> Any:
    found = _SAMPLE.match(line)
    if line.startswith("#") or found is None:
        return line
    name, labels, value = found.groups()
    return name, frozenset(_LABEL.findall(labels or "")), float(value)


def test_metrics_counters_and_text() -> None:
    metrics = Metrics()
    metrics.normalized("vonage", False)
    metrics.normalized("vonage", True)
    metrics.normalized("smpp", False)
    metrics.normalized("vonage", False, failed("vonage", ErrorCategory.UNREACHABLE))
    metrics.normalized("vonage", False, failed("vonage", ErrorCategory.UNREACHABLE))  # a duplicate counts again
    metrics.normalized("smpp", False, failed("smpp", ErrorCategory.UNREACHABLE))
    metrics.normalized("smpp", False, failed("smpp", None))  # a generic SMPP err: a code without a category
    metrics.emitted(STATUS_CHANGES, "DELIVERED")
    metrics.emitted(STATUS_CHANGES, "DELIVERED")
    metrics.emitted(STATUS_CHANGES)  # the call the agents make today still counts the topic
    metrics.emitted(DEAD_LETTER)
    metrics.webhook("vonage", 200, 0.004)
    metrics.webhook("vonage", 401, 0.0001)
    text = metrics.render([("dlr_fold_lag_records", "lag", {(("partition", "0"),): 3})])
    lines = exposition(text)
    for expected in [
        'dlr_receipts_in_total{provider="vonage"} 4',
        'dlr_normalized_total{provider="vonage"} 3',
        'dlr_normalized_total{provider="smpp"} 3',
        "# TYPE dlr_error_categories_total counter",
        'dlr_error_categories_total{category="UNREACHABLE",provider="smpp"} 1',
        'dlr_error_categories_total{category="UNREACHABLE",provider="vonage"} 2',
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
        assert canon(expected) in lines, expected
    assert text.endswith("\n")
    assert sum(line.startswith("dlr_error_categories_total{") for line in text.splitlines()) == 2


def test_receipt_warnings_are_counted_by_provider_and_field() -> None:
    metrics = Metrics()
    tolerated = dataclasses.replace(
        failed("smpp", None),
        warnings=("done date: missing; event time from the received time", "err: trailing 'x' ignored"))
    metrics.normalized("smpp", False, tolerated)
    metrics.normalized("smpp", False, tolerated)  # a duplicate counts again
    metrics.normalized("smpp", False, failed("smpp", None))  # read whole: nothing counted
    lines = exposition(metrics.render())
    assert canon('dlr_receipt_warnings_total{field="done date",provider="smpp"} 2') in lines
    assert canon('dlr_receipt_warnings_total{field="err",provider="smpp"} 2') in lines


def failed(provider: str, category: ErrorCategory | None) -> Receipt:
    return Receipt(provider=provider, message_id="m1", status=Status.UNDELIVERED, final=True,
                   provider_status="failed", event_time=0, error_code="1", error_category=category)


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.1", 2), ("1", 3), ("+Inf", 4)]
    assert histogram.count == 4 and histogram.sum == pytest.approx(3.65)


def test_metrics_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.normalized('we"ird\\na\nme', False)
    assert 'dlr_receipts_in_total{provider="we\\"ird\\\\na\\nme"} 1.0' in metrics.render().splitlines()


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
             assignment: set[Any] | None = None, highwater: dict[Any, int | None] | None = None,
             committed: dict[Any, int | None] | None = None, recovery: Any = None) -> Any:
    """Faust's App as health.py reads it: consumer.assignment/highwater (the
    client raises for a partition it has not fetched), _committed_offset, and
    tables.recovery."""
    tps = assignment if assignment is not None else {TP(RAW, 0)}
    marks = highwater or {}

    def high(tp: Any) -> int | None:
        if tp not in marks:
            raise AssertionError("Partition is not assigned")
        return marks[tp]

    consumer = SimpleNamespace(assignment=lambda: tps, highwater=high, _committed_offset=committed or {})
    recovery = recovery or SimpleNamespace(completed=Event(completed))
    tables = SimpleNamespace(recovery=recovery, actives_ready=actives)
    return SimpleNamespace(rebalancing=rebalancing, tables=tables, consumer=consumer)


RAW = raw_topic("smpp")


def test_readiness() -> None:
    assert health.readiness(fake_app()) == (True, "ready")
    assert health.readiness(fake_app(rebalancing=True)) == (False, "rebalancing")
    assert health.readiness(fake_app(completed=False)) == (False, "table recovery not completed")
    assert health.readiness(fake_app(actives=False)) == (False, "tables not up to date")
    assert health.readiness(fake_app(assignment=set())) == (False, "no partitions assigned")
    assert health.readiness(SimpleNamespace(rebalancing=False))[0] is False  # no tables yet: not ready


def test_consumer_and_fold_lag() -> None:
    s0, s1, s2, s3 = (TP(RAW, p) for p in range(4))
    g0 = TP(raw_topic("gatewayapi"), 0)
    r0, r1 = TP(REPARTITION, 0), TP(REPARTITION, 1)
    other = [TP(RECEIPTS, 0), TP("dlr-streams-message-state-changelog", 0), TP("dlr-streams-__assignor-__leader", 0)]
    app = fake_app(assignment={s0, s1, s2, s3, g0, r0, r1, *other},
                   highwater={s0: 10, s1: 5, s3: None, g0: 4, r0: 7, r1: 0, **dict.fromkeys(other, 99)},
                   committed={s0: 7, s1: None, g0: -1, r0: 9, r1: None})
    lag = health.consumer_lag(app)
    # s2 not fetched yet, s3's highwater unknown: left out. s1: no commit yet; g0: none in the group;
    # r0 committed past a stale highwater: 0, never negative. Topics no agent reads are not counted.
    assert lag == {(RAW, 0): 3, (RAW, 1): 5, (raw_topic("gatewayapi"), 0): 4, (REPARTITION, 0): 0,
                   (REPARTITION, 1): 0}
    assert health.fold_lag(lag) == {0: 7, 1: 5}
    assert health.consumer_lag(SimpleNamespace()) == {}  # no consumer yet: no series, no error
    rebalancing = fake_app(rebalancing=True, assignment={s0}, highwater={s0: 10}, committed={})
    assert health.consumer_lag(rebalancing) == {}  # committed offsets not read yet: 10 would be wrong
    assert health.consumer_lag(fake_app(assignment=set())) == {}
    assert health.fold_lag({}) == {}
    assert REPARTITION in health.PIPELINE_TOPICS and RECEIPTS not in health.PIPELINE_TOPICS


def fake_recovery(*, in_recovery: bool) -> tuple[Any, dict[Any, int | None]]:
    """Faust's Recovery mid-way: active p0 has 40 changelog records left, p1 is
    done; standby p2 is 3 behind the live high watermark, p3 not fetched yet (its
    snapshot says 5 behind), p4 has no start offset yet."""
    changelog = "dlr-streams-message-state-changelog"
    a0, a1, s2, s3, s4 = (TP(changelog, p) for p in range(5))
    table = SimpleNamespace(name="message-state")
    return SimpleNamespace(
        completed=Event(not in_recovery), in_recovery=in_recovery,
        tp_to_table=dict.fromkeys([a0, a1, s2, s3, s4], table),
        active_tps={a0, a1}, standby_tps={s2, s3, s4},
        active_remaining=lambda: {a0: 40, a1: 0, TP(changelog, 9): 7},  # p9: revoked, stale
        standby_offsets={s2: 96, s3: 10, s4: None}, standby_highwaters={s3: 15},
    ), {s2: 100}  # the recovery, and the consumer's high watermarks


def test_table_recovery() -> None:
    recovery, highwaters = fake_recovery(in_recovery=True)
    app = fake_app(recovery=recovery, highwater=highwaters)
    assert health.recovering(app) is True
    assert health.recovery_remaining(app) == {
        ("message-state", 0, "active"): 40, ("message-state", 1, "active"): 0,
        ("message-state", 2, "standby"): 3, ("message-state", 3, "standby"): 5,
    }
    assert health.readiness(app) == (False, "table recovery not completed")
    recovery, highwaters = fake_recovery(in_recovery=False)
    assert health.recovering(fake_app(recovery=recovery, highwater=highwaters)) is False
    assert health.recovering(SimpleNamespace()) is None
    assert health.recovery_remaining(SimpleNamespace()) == {}


def test_scrape_time_gauges_render() -> None:
    recovery, highwaters = fake_recovery(in_recovery=True)
    r0 = TP(REPARTITION, 0)
    app = fake_app(recovery=recovery, assignment={r0}, highwater={**highwaters, r0: 12}, committed={r0: 2})
    lines = exposition(Metrics().render(_gauges(app)))
    for expected in [
        "dlr_ready 0",
        "# TYPE dlr_consumer_lag gauge",
        f'dlr_consumer_lag{{topic="{REPARTITION}",partition="0"}} 10',
        'dlr_fold_lag_records{partition="0"} 10',
        "dlr_table_recovering 1",
        "# TYPE dlr_table_recovery_remaining gauge",
        'dlr_table_recovery_remaining{table="message-state",partition="0",role="active"} 40',
        'dlr_table_recovery_remaining{table="message-state",partition="2",role="standby"} 3',
    ]:
        assert canon(expected) in lines, expected
    # A worker that has not started: every family is there, without samples; the scrape succeeds.
    text = Metrics().render(_gauges(SimpleNamespace()))
    assert canon("dlr_ready 0") in exposition(text)
    for family in ("dlr_consumer_lag", "dlr_fold_lag_records", "dlr_table_recovering", "dlr_table_recovery_remaining"):
        assert f"# TYPE {family} gauge" in text
        assert not any(line.startswith(family + "{") or line.startswith(family + " ") for line in text.splitlines())


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

    from streams.worker.webhooks import _receive

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


def test_collector_families_and_the_standard_process_and_python_metrics() -> None:
    metrics = Metrics()
    metrics.normalized("vonage", True)
    metrics.normalized("smpp", False, failed("smpp", ErrorCategory.UNREACHABLE))
    metrics.emitted(STATUS_CHANGES, "DELIVERED")
    metrics.webhook("vonage", 200, 0.01)
    labels: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    assert labels["dlr_receipts_in_total"] == {"provider"}
    assert labels["dlr_dead_lettered_total"] == {"stage", "provider"}
    assert labels["dlr_error_categories_total"] == {"category", "provider"}
    assert labels["dlr_status_changes_total"] == {"status"}
    assert labels["dlr_emitted_total"] == {"topic"}
    assert labels["dlr_webhook_requests_total"] == {"provider", "code"}
    assert labels["dlr_webhook_request_seconds_bucket"] == {"provider", "le"}
    assert labels["dlr_rebalance_rereads_total"] == set()
    assert any(name.startswith("process_") for name in labels)  # ProcessCollector (Linux /proc)
    assert any(name.startswith("python_gc_") for name in labels)  # GCCollector
    assert "python_info" in labels  # PlatformCollector
    assert Metrics().registry is not metrics.registry  # a registry of its own, not the global default
