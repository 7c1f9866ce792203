"""Poison pills (issue item 4): 1% of the stream is garbage. Every bad record
lands on the dead-letter topic with its original bytes, its source topic,
partition and offset and a reason; no valid receipt is lost; the worker never
restarts (same process throughout, no agent crash in its log)."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from streams.core import providers
from streams.core.model import ReceiptError
from streams.kafka.broker import EmbeddedBroker
from streams.serde import codec
from streams.topics import DEAD_LETTER, raw_topic
from streams.worker import steps
from tests.reliability.conftest import Workers
from tests.reliability.harness import (
    Feeder,
    Raw,
    generated,
    offline,
    raw,
    read_all,
    settled_verify,
    wait_drained,
)

pytestmark = pytest.mark.reliability

VALID = 20_000
BAD_SHARE = 0.01
JSON_PROVIDERS = ("gatewayapi", "messente", "vonage")
# What each kind of garbage must be told apart by, in the dead letter's reason.
REASONS: dict[str, str] = {
    "broken_json": r"invalid JSON",
    "invalid_utf8": r"not UTF-8",
    "unknown_status": r"unknown \w+ status",
    "truncated_smpp": r".",
    "large_300KB": r".",
    "empty_payload": r"empty",
    "empty_record": r"empty",
    "tombstone": r"tombstone",
}


# The field that carries the status word, for the providers whose field is not `status`.
STATUS_FIELDS: dict[str, tuple[str, ...]] = {"kannel": ("type",), "jasmin": ("message_status",),
                                             "twilio": ("MessageStatus", "SmsStatus")}


def with_status(provider: str, payload: bytes, word: str) -> bytes:
    """The same receipt with another provider status word."""
    if payload.startswith(b"{"):
        body = json.loads(payload)
        if provider == "infobip":  # {"results": [{"status": {"groupName": ..., "name": ...}}]}
            body["results"][0]["status"].update(groupName=word, name=word)
        else:
            body["status"] = word
        return json.dumps(body, separators=(",", ":")).encode()
    if provider == "smpp":
        return re.sub(rb"stat:\S+", b"stat:" + word.encode()[:7], payload)
    fields = dict(parse_qsl(payload.decode()))
    for name in STATUS_FIELDS.get(provider, ("status",)):
        fields[name] = word
    return urlencode(fields).encode()


def garbage(kind: str, base: Raw, rnd: random.Random) -> Raw:
    """One bad record of `kind`, made from a valid one of the stream."""
    payload = base.payload or b""
    provider = base.provider
    if kind == "broken_json":
        provider = rnd.choice(JSON_PROVIDERS)
        body = {"status": "DELIVERED", "id": rnd.randrange(10**9), "messageId": "x", "message_id": "y"}
        text = json.dumps(body).encode()
        bad = text[: rnd.randrange(1, len(text) - 1)] if rnd.random() < 0.5 else text.replace(b":", b";", 1)
        return raw(provider, bad, kind=kind)
    if kind == "invalid_utf8":
        at = rnd.randrange(len(payload))
        return raw(provider, payload[:at] + rnd.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88"])
                   + payload[at:], kind=kind)
    if kind == "unknown_status":
        return raw(provider, with_status(provider, payload, "FROBNIC"), kind=kind)
    if kind == "truncated_smpp":
        line = b"id:%010d sub:001 dlvrd:000 submit date:2603100900 done date:2603100901 stat:DELIVRD err:000 text:" % (
            rnd.randrange(10**9))
        return raw("smpp", line[: rnd.randrange(3, line.index(b"stat:") + 6)], kind=kind)
    if kind == "large_300KB":
        return raw(provider, b'{"status":"' + bytes(rnd.choice(b"abc") for _ in range(64)) * 4700 + b'"}', kind=kind)
    if kind == "empty_payload":
        return raw(provider, b"", kind=kind)
    if kind == "empty_record":
        return raw(provider, b"", kind=kind, bare=True)
    if kind == "tombstone":
        item = raw(provider, b"", kind=kind, bare=True)
        item.value = None
        return item
    raise AssertionError(kind)


def poisoned(valid: list[Raw], rnd: random.Random) -> list[Raw]:
    kinds = list(REASONS)
    count = round(len(valid) * BAD_SHARE / (1 - BAD_SHARE))
    stream = list(valid)
    for n in range(count):
        bad = garbage(kinds[n % len(kinds)], rnd.choice(valid), rnd)
        assert bad.receipt is None, f"{bad.kind} parses: {bad.payload!r}"
        stream.insert(rnd.randrange(len(stream) + 1), bad)
    return stream


def dead_letters(bootstrap: str) -> dict[tuple[str, int, int], dict[str, Any]]:
    out = {}
    for rec in read_all(bootstrap, [DEAD_LETTER]):
        assert rec.value is not None
        _, letter = codec.decode(rec.value, expect="DeadLetter")
        out[(letter["source_topic"], letter["source_partition"], letter["source_offset"])] = letter
    return out


def check_letter(item: Raw, letter: dict[str, Any] | None) -> str | None:
    """Why `letter` is not the right dead letter of `item` (None: it is)."""
    if letter is None:
        return "no dead letter"
    if letter["original"] != (item.value or b""):
        return "original bytes differ"
    # The payload is copied out of its envelope for reading only while small;
    # a large one is in the original bytes alone (steps.PAYLOAD_COPY_LIMIT).
    small = item.payload is not None and len(item.payload) <= steps.PAYLOAD_COPY_LIMIT
    expected_payload = item.payload if small else None
    if item.value is not None and item.value[:2] == codec.MAGIC and letter["payload"] != expected_payload:
        return "payload differs"
    if letter["provider"] != item.provider:
        return f"provider {letter['provider']!r}"
    if not re.search(REASONS[item.kind], letter["reason"] or "", re.IGNORECASE):
        return f"reason {letter['reason']!r}"
    return None


@pytest.mark.timeout(420)
def test_garbage_is_dead_lettered_and_nothing_valid_is_lost(broker: EmbeddedBroker, workers: Workers,
                                                            report: Callable[[str], None]) -> None:
    rnd = random.Random(4)
    valid = generated(VALID, seed=41)
    stream = poisoned(valid, rnd)
    bad = [i for i in stream if i.kind != "valid"]
    want = offline(i.receipt for i in valid if i.receipt is not None)
    bootstrap = broker.bootstrap

    worker = workers.new("w1").start()
    worker.wait_web(60)
    pid = worker.process.pid if worker.process else None
    start = time.monotonic()
    feeder = Feeder(bootstrap, stream, rate=2000.0)
    feeder.start()
    feeder.join(300)
    feeder.check()
    drain = wait_drained(bootstrap, [worker], timeout=300)
    elapsed = time.monotonic() - start

    letters = dead_letters(bootstrap)
    problems: dict[str, list[str]] = {}
    for item in bad:
        why = check_letter(item, letters.get((item.topic, item.partition, item.offset)))
        if why:
            problems.setdefault(item.kind, []).append(why)
    expected_sources = {(i.topic, i.partition, i.offset) for i in bad}
    stray = sorted(set(letters) - expected_sources)  # dead letters of records that were valid
    verdict = settled_verify(bootstrap, want)
    log = worker.log_path.read_text(errors="replace")
    crashes = log.count("Crashed reason=")
    same_process = worker.alive and worker.process is not None and worker.process.pid == pid

    by_kind = ", ".join(f"{k}={n}" for k, n in sorted(
        {k: sum(1 for i in bad if i.kind == k) for k in REASONS}.items()))
    report(f"poison: records={len(stream)} bad={len(bad)} ({len(bad) / len(stream):.1%}: {by_kind}) "
           f"dead_letters={len(letters)} bad_not_dead_lettered_right={sum(map(len, problems.values()))} "
           f"valid_dead_lettered={len(stray)} lost={verdict.lost} wrong={verdict.wrong} "
           f"duplicates={verdict.duplicates} agent_crashes={crashes} same_process={same_process} "
           f"elapsed={elapsed:.0f}s drained_after={drain:.0f}s")
    assert problems == {}, {k: v[:3] for k, v in problems.items()}
    assert stray == [], stray[:5]
    assert verdict.clean, verdict.explain()
    assert crashes == 0 and same_process, worker.log_tail(60)


def test_parser_results_are_all_dead_letter_reasons() -> None:
    """Every kind of garbage above is a ReceiptError offline too (the test's premise)."""
    rnd = random.Random(5)
    valid = generated(200, seed=5)
    for kind in REASONS:
        item = garbage(kind, rnd.choice(valid), rnd)
        if item.payload is not None:
            with pytest.raises(ReceiptError):
                providers.normalize(item.provider, item.payload, providers.Options(received_at=0))
        assert item.topic == raw_topic(item.provider)


@pytest.mark.timeout(240)
def test_one_megabyte_payload_is_dead_lettered(broker: EmbeddedBroker, workers: Workers,
                                               report: Callable[[str], None]) -> None:
    bootstrap = broker.bootstrap
    valid = generated(600, seed=43)
    rnd = random.Random(6)
    big = [raw(p, b'{"status":"' + bytes(rnd.choice(b"xyz") for _ in range(1000)) * 1000 + b'"}', kind="1MB")
           for p in providers.names()]
    stream = valid[:300] + big + valid[300:]
    want = offline(i.receipt for i in valid if i.receipt is not None)
    worker = workers.new("w1").start()
    worker.wait_web(60)
    feeder = Feeder(bootstrap, stream, rate=None, **{"message.max.bytes": 2_000_000})
    feeder.run()
    feeder.check()
    wait_drained(bootstrap, [worker], timeout=180)
    letters = dead_letters(bootstrap)
    landed = sum(1 for i in big if (i.topic, i.partition, i.offset) in letters)
    verdict = settled_verify(bootstrap, want)
    crashes = worker.log_path.read_text(errors="replace").count("Crashed reason=")
    report(f"poison 1 MB: payloads={len(big)} of {len(big[0].payload or b'')} bytes, dead-lettered={landed}, "
           f"agent_crashes={crashes}, valid lost={verdict.lost} wrong={verdict.wrong}")
    assert verdict.clean, verdict.explain()
    assert landed == len(big)
    assert crashes == 0
