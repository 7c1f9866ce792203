"""Property and fuzz tests (issue item 5), no broker needed.

- The fold converges: any permutation of real normalized receipts, with any
  duplicates, gives the same states (and each change id at most once).
- Every provider's normalizer, for arbitrary bytes and for structure-aware
  garbage (sample lines truncated, bit-flipped, spliced, with huge or
  wrongly typed fields), returns a Receipt or raises ReceiptError, nothing
  else. The parsers are called directly, under `providers.normalize`'s
  safety net, so a parser bug cannot hide behind it.
- The same under atheris (coverage-guided), a few thousand runs in a subprocess.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core import providers, records, samples
from streams.core.fold import fold_all
from streams.core.generate import receipts as generated_receipts
from streams.core.model import Receipt, ReceiptError, Status
from streams.serde import codec
from streams.worker import steps
from tests.reliability.harness import RECEIVED_AT

pytestmark = pytest.mark.reliability

OPTIONS = providers.Options(received_at=RECEIVED_AT)
NAMES = providers.names()


def sample_lines() -> list[bytes]:
    lines = [line for provider_lines in samples.all_lines().values() for line in provider_lines]
    lines += [g.payload for g in itertools.islice(generated_receipts(40, seed=9), 100)]
    return lines


LINES = sample_lines()


def normalized_pool() -> list[Receipt]:
    out = []
    for provider, lines in samples.all_lines().items():
        for line in lines:
            out += [r for r in providers.normalize_all(provider, line, OPTIONS) if not isinstance(r, ReceiptError)]
    for g in itertools.islice(generated_receipts(30, seed=12), 200):
        out.append(providers.normalize(g.provider, g.payload, OPTIONS))
    return out


POOL = normalized_pool()


# --- the fold --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(POOL), min_size=1, max_size=40), st.randoms(use_true_random=False),
       st.lists(st.integers(0, 10**6), max_size=20))
def test_fold_converges_for_any_order_and_duplicates(events: list[Receipt], rnd: object, dupes: list[int]) -> None:
    mixed = list(events) + [events[i % len(events)] for i in dupes]
    rnd.shuffle(mixed)  # type: ignore[attr-defined]
    states, emitted = fold_all(mixed)
    assert states == fold_all(events)[0]
    assert states == fold_all(sorted(set(events), key=repr))[0]
    ids = [e.id for e in emitted]
    assert len(ids) == len(set(ids))


# --- the normalizers -------------------------------------------------------------------------------


def check_every_parser(payload: bytes) -> None:
    """A Receipt of the right provider, or a ReceiptError; anything else fails."""
    for name in NAMES:
        parse = providers.parser(name)
        try:
            receipt = parse(payload, OPTIONS)
        except ReceiptError as exc:
            assert str(exc), f"{name}: a ReceiptError without a reason for {payload[:200]!r}"
            continue
        except Exception as exc:
            raise AssertionError(f"{name} parser raised {type(exc).__name__}: {exc} for {payload[:300]!r}") from exc
        assert isinstance(receipt, Receipt), (name, receipt)
        assert receipt.provider == name and receipt.message_id, receipt
        assert isinstance(receipt.status, Status) and isinstance(receipt.event_time, int), receipt


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes(payload: bytes) -> None:
    check_every_parser(payload)


HUGE = [b"9" * 5000, b"-" + b"9" * 400, b"1e999", b"NaN", b"-Infinity", b"x" * 100_000, b"[" * 50_000,
        b'"' + b"\\u00e9" * 2000 + b'"', b"null", b"true", b"[]", b"{}", b"0.0000001", b"\x00" * 64,
        b"%" * 100, b"%ZZ", b"&&&&", b"====", b"stat:", b"id:", b"\xef\xbb\xbf", b" " * 1000]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real receipt line, damaged the ways lines get damaged on the wire."""
    line = bytearray(draw(st.sampled_from(LINES)))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "splice", "huge", "retype", "dup"]))
        at = draw(st.integers(0, len(line)))
        if how == "truncate":
            line = line[:at]
        elif how == "flip" and line:
            i = min(at, len(line) - 1)
            line[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "insert":
            line[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del line[at:at + draw(st.integers(1, 20))]
        elif how == "splice":
            other = draw(st.sampled_from(LINES))
            line = line[:at] + other[draw(st.integers(0, len(other))):]
        elif how == "huge":
            line = line[:at] + draw(st.sampled_from(HUGE)) + line[at:]
        elif how == "retype":
            line = bytearray(retype(bytes(line), draw))
        elif how == "dup":
            line = line + line
    return bytes(line)


def retype(line: bytes, draw: st.DrawFn) -> bytes:
    """A JSON line with one field's value replaced by a value of another type or size."""
    try:
        body = json.loads(line)
    except (ValueError, RecursionError):
        return line
    if not isinstance(body, dict) or not body:
        return line
    key = draw(st.sampled_from(sorted(body)))
    body[key] = draw(st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
        st.text(max_size=30).filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s)),
        st.just("x" * 70_000), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                     max_size=2)))
    return json.dumps(body).encode()


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_sample_lines(payload: bytes) -> None:
    check_every_parser(payload)


@pytest.mark.parametrize("line", LINES[:60], ids=lambda b: b[:24].decode(errors="replace"))
def test_every_truncation_of_sample_lines(line: bytes) -> None:
    for cut in range(len(line) + 1):
        check_every_parser(line[:cut])


def test_normalize_step_turns_every_mutated_line_into_a_receipt_or_a_dead_letter() -> None:
    """What the worker does with a record: never raises, always writes something decodable."""
    src = steps.Source("dlr.raw.x", 0, 0, None, RECEIVED_AT)
    count = 0
    for line in LINES:
        for cut in range(0, len(line) + 1, 7):
            for name in NAMES:
                outs = steps.normalize(name, line[:cut], src, OPTIONS)
                assert outs and all(codec.decode(out.value)[0] in ("Receipt", "DeadLetter") for out in outs)
                count += 1
    assert count > 1000


@pytest.mark.parametrize("provider", ["gatewayapi", "messente", "vonage"])
def test_lone_surrogate_escape_is_dead_lettered(provider: str) -> None:
    line = next(g.payload for g in generated_receipts(5, seed=1, providers=[provider]))
    body = json.loads(line)
    field = {"gatewayapi": "userref", "messente": "message_id", "vonage": "client-ref"}[provider]
    body[field] = "A\ud800"
    payload = json.dumps(body).encode()  # ensure_ascii: the surrogate goes out as the escape \ud800
    assert b"\\ud800" in payload
    [out] = steps.normalize(provider, payload, steps.Source(f"dlr.raw.{provider}", 0, 0, None, 0), OPTIONS)
    assert codec.decode(out.value)[0] in ("Receipt", "DeadLetter")


def test_every_receipt_of_the_samples_is_encodable() -> None:
    """Every receipt any parser makes of a sample line is encodable by the codec (as the worker needs)."""
    for line in LINES:
        for name in NAMES:
            for receipt in providers.normalize_all(name, line, OPTIONS):
                if not isinstance(receipt, ReceiptError):
                    codec.encode("Receipt", records.to_avro(receipt))


# --- atheris ---------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_atheris_normalizers(tmp_path: Path, report: Callable[[str], None]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, line in enumerate(LINES):
        (corpus / f"seed-{i:03d}").write_bytes(line)
    runs = 5000
    harness = Path(__file__).with_name("atheris_normalizers.py")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(harness), f"-runs={runs}", "-max_len=4096", "-seed=1", "-timeout=20",
         "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, timeout=240, check=False, cwd=Path(__file__).parents[2])
    elapsed = time.monotonic() - start
    out = done.stderr.decode(errors="replace")
    final = [line for line in out.splitlines() if "DONE" in line or "Done" in line]
    report(f"atheris: runs={runs} exit={done.returncode} elapsed={elapsed:.0f}s {' | '.join(final)[-200:]}")
    assert done.returncode == 0, out[-4000:]
