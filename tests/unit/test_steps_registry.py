"""The worker's steps with and without a schema registry: every output in its
topic's framing, records read in either, schemas registered once at start-up,
and a registry failure never a dead letter. Pure: an in-memory registry."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from streams.core import providers, records, samples
from streams.core.model import MessageState, Receipt, ReceiptError
from streams.ops.tail import to_json
from streams.serde import codec, encoders, registry
from streams.serde.registry import HEADER, ConfluentClient, Registry, RegistryError, decode_any
from streams.topics import (
    CHARGE_CHANGES,
    DEAD_LETTER,
    RECEIPTS,
    REPARTITION,
    STATUS_CHANGES,
    changelog,
    raw_topic,
)
from streams.worker import steps
from tests.fake_registry import FakeClient

SRC = steps.Source(raw_topic("vonage"), 0, 7, b"k", 1_780_000_000_000_000)
OPTIONS = providers.Options(received_at=0)
RECORD_OF = {RECEIPTS: "Receipt", STATUS_CHANGES: "StatusChange", CHARGE_CHANGES: "ChargeChange",
             DEAD_LETTER: "DeadLetter"}


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No registry configured, nothing resolved, before and after each test."""
    monkeypatch.delenv("DLR_SCHEMA_REGISTRY_URL", raising=False)
    monkeypatch.delenv("DLR_STATE_VERSION", raising=False)
    configured = registry.default_registry  # some tests replace it
    configured.cache_clear()
    encoders.use(None)
    yield
    encoders.use(None)
    configured.cache_clear()


def run(lines: dict[str, list[bytes]]) -> tuple[list[steps.Out], dict[bytes, bytes]]:
    """Every sample through normalize and fold, as the worker does: a receipt
    through the repartition path (fold_one, from its bytes) and the next on
    the spot (fold_receipt), in turn. Outputs and final state bytes."""
    outs: list[steps.Out] = []
    states: dict[bytes, bytes] = {}
    n = 0
    for provider, provider_lines in lines.items():
        for line in provider_lines:
            for result in steps.normalize_receipts(provider, line, SRC, OPTIONS):
                outs.append(result.out)
                if result.receipt is None or result.out.key is None:
                    continue
                key = result.out.key
                n += 1
                if n % 2:
                    new, emitted = steps.fold_one(states.get(key), result.out.value, SRC)
                else:
                    new, emitted = steps.fold_receipt(states.get(key), result.receipt, SRC)
                outs += emitted
                if new is not None:
                    states[key] = new
    return outs, states


def test_without_a_registry_every_output_is_single_object_encoded_as_before() -> None:
    outs, states = run(samples.all_lines())
    assert {o.topic for o in outs} == {RECEIPTS, STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER}
    for out in outs:
        name, record = codec.decode(out.value)
        assert name == RECORD_OF[out.topic]
        if name != "DeadLetter":  # a dead letter carries the time it was made
            assert out.value == codec.encode(name, record)  # the bytes of codec.encode, as before the registry
    for value in states.values():
        assert value == codec.encode("MessageState", codec.decode(value, expect="MessageState")[1])
    assert encoders.in_use().registry is None


def test_with_a_registry_every_output_carries_its_topics_schema_id() -> None:
    lines = samples.all_lines()
    offline_outs, offline_states = _offline(lines)
    client = FakeClient()
    reg = Registry(client)
    encoders.use(encoders.Encoders.resolve(state_version=2, registry=reg))
    registered = dict(client.subjects)
    assert set(registered) == {f"{t}-value" for t in (RECEIPTS, REPARTITION, STATUS_CHANGES, CHARGE_CHANGES,
                                                      DEAD_LETTER, changelog(2))}
    calls = client.calls

    outs, states = run(lines)
    assert client.calls == calls  # registered at start-up only: no registry call per record

    assert len(outs) == len(offline_outs)
    for out, plain in zip(outs, offline_outs, strict=True):
        assert (out.topic, out.key, out.status) == (plain.topic, plain.key, plain.status)
        assert out.value[0] == 0
        assert registered[f"{out.topic}-value"] == [HEADER.unpack_from(out.value)[1]]
        name, record = decode_any(out.value, registry=reg)
        plain_name, plain_record = codec.decode(plain.value)
        assert name == plain_name == RECORD_OF[out.topic]
        if name == "DeadLetter":
            record, plain_record = ({k: v for k, v in r.items() if k != "failed_at"} for r in (record, plain_record))
        assert record == plain_record
        assert out.value[HEADER.size:] == plain.value[10:] or name == "DeadLetter"  # the same Avro body
    assert set(states) == set(offline_states)
    for key, value in states.items():
        assert registered[f"{changelog(2)}-value"] == [HEADER.unpack_from(value)[1]]
        assert isinstance(steps.decode_state(value), MessageState)
        assert steps.decode_state(value) == steps.decode_state(offline_states[key])


def _offline(lines: dict[str, list[bytes]]) -> tuple[list[steps.Out], dict[bytes, bytes]]:
    encoders.use(encoders.Encoders.resolve())
    try:
        return run(lines)
    finally:
        encoders.use(None)


def test_a_registry_down_at_start_up_fails_start_up() -> None:
    client = FakeClient()
    client.down = True
    with pytest.raises(RegistryError, match=r"registering Receipt under dlr\.receipts-value: registry down"):
        encoders.Encoders.resolve(registry=Registry(client))


def test_the_configured_registry_is_used_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient()
    monkeypatch.setattr(registry, "default_registry", lambda: Registry(client))
    monkeypatch.setenv("DLR_STATE_VERSION", "3")
    resolved = encoders.in_use()
    assert resolved is encoders.in_use()  # resolved once
    assert f"{changelog(3)}-value" in client.subjects
    [out] = steps.normalize(*_first_good(), SRC, OPTIONS)
    assert out.value[0] == 0 and out.topic == RECEIPTS


def _first_good() -> tuple[str, bytes]:
    for provider, lines in samples.all_lines().items():
        for line in lines:
            try:
                providers.normalize(provider, line, OPTIONS)
            except ReceiptError:
                continue
            return provider, line
    raise AssertionError("no good sample")


def test_a_registry_failure_while_reading_propagates_and_is_never_a_dead_letter() -> None:
    writer = FakeClient()
    writer.schemas = [f'"other {n}"' for n in range(20)]  # ids the reader does not know: it must look them up
    value = Registry(writer).encode(RECEIPTS, "Receipt", records.to_avro(_receipt()))
    reader = FakeClient()
    encoders.use(encoders.Encoders.resolve(registry=Registry(reader)))
    reader.down = True
    with pytest.raises(RegistryError):
        steps.fold_one(None, value, SRC)
    stored = steps.decode_state(_state_bytes())
    assert stored is not None
    state = Registry(writer).encode(changelog(1), "MessageState", records.to_avro(stored))
    with pytest.raises(RegistryError):
        steps.fold_receipt(state, _receipt(), SRC)


def test_an_unknown_schema_id_is_a_bad_record_and_dead_lettered() -> None:
    client = FakeClient()
    encoders.use(encoders.Encoders.resolve(registry=Registry(client)))
    value = b"\x00" + (999).to_bytes(4, "big") + b"\x02"
    state, outs = steps.fold_one(None, value, SRC)
    assert state is None and [o.topic for o in outs] == [DEAD_LETTER]
    name, letter = decode_any(outs[0].value, registry=Registry(client))
    assert name == "DeadLetter" and letter["reason"] == "unknown schema id 999" and letter["original"] == value


def test_confluent_framing_without_a_registry_is_a_reason() -> None:
    value = Registry(FakeClient()).encode(RECEIPTS, "Receipt", records.to_avro(_receipt()))
    _, outs = steps.fold_one(None, value, SRC)
    _, letter = codec.decode(outs[0].value, expect="DeadLetter")
    assert "no schema registry configured" in letter["reason"]


def test_tail_shows_either_framing(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient()
    reg = Registry(client)
    monkeypatch.setattr(registry, "default_registry", lambda: reg)
    record = records.to_avro(_receipt())
    confluent = reg.encode(RECEIPTS, "Receipt", record)
    assert to_json(confluent) == to_json(codec.encode("Receipt", record)) == records.to_json(_receipt())
    client.down = True
    shown = to_json(b"\x00" + (77).to_bytes(4, "big") + b"\x00")  # a registry outage: shown, not raised
    assert shown["type"] == "undecodable" and "registry down" in shown["error"]


def test_a_url_the_client_refuses_is_a_registry_error_without_the_password() -> None:
    with pytest.raises(RegistryError) as caught:
        ConfluentClient("registry.example:8081")
    assert "registry.example:8081" in str(caught.value)
    with pytest.raises(RegistryError) as caught:
        ConfluentClient("ftp://dlr:s3cret@registry.example")
    assert "s3cret" not in str(caught.value)


def _receipt() -> Receipt:
    return providers.normalize(*_first_good(), OPTIONS)


def _state_bytes() -> bytes:
    state, _ = steps.fold_receipt(None, _receipt(), SRC)
    assert state is not None
    return state


def test_the_state_encoder_is_the_changelogs_of_the_state_version() -> None:
    client = FakeClient()
    encoders.use(encoders.Encoders.resolve(state_version=4, registry=Registry(client)))
    value = _state_bytes()
    assert client.subjects[f"{changelog(4)}-value"] == [HEADER.unpack_from(value)[1]]
    assert json.loads(client.lookup(HEADER.unpack_from(value)[1])) == codec.public_schema("MessageState")


def test_replay_stops_before_reading_when_the_registry_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.ops.replay import Request, replay

    client = FakeClient()
    client.down = True
    monkeypatch.setattr(registry, "default_registry", lambda: Registry(client))
    out, err = io.StringIO(), io.StringIO()
    request = Request("127.0.0.1:1", ["vonage"], 1, from_time="-1h")  # no broker there: never reached
    assert replay(request, out, err) == 64
    assert err.getvalue() == ("dlr replay: schema registry: registering Receipt under dlr.receipts-value:"
                              " registry down\n")
    assert out.getvalue() == ""
