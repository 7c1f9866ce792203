"""streams.worker.steps on its own: what a dead letter carries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.core import providers
from streams.core.providers._wire import clip
from streams.serde import codec, envelope
from streams.worker import steps

SOURCE = steps.Source("dlr.raw.labsmobile", 2, 41, b"k", 1_700_000_000_000_000)


def test_a_reason_quoting_a_huge_payload_is_cut_but_the_original_is_whole() -> None:
    payload = b'{"status":"' + b"x" * 1_000_000 + b'"}'  # not a LabsMobile query string
    value = envelope.make("labsmobile", payload, "test", received_at=1)
    [result] = steps.normalize_receipts("labsmobile", value, SOURCE, providers.Options())
    assert result.receipt is None
    _, letter = codec.decode(result.out.value, expect="DeadLetter")
    assert letter["original"] == value
    assert letter["payload"] is None  # large: in the original only
    assert len(letter["reason"]) <= steps.REASON_LIMIT + 20
    assert letter["reason"].startswith("invalid query string")
    # one copy of the receipt, not two: it fits a broker's 1 MiB limit when the raw record did
    assert len(result.out.value) < len(value) + 1024


@given(st.text(max_size=5000))
def test_every_reason_is_bounded(reason: str) -> None:
    _, letter = codec.decode(steps.dead_letter(SOURCE, b"raw", reason, "normalize").value, expect="DeadLetter")
    assert len(letter["reason"]) <= steps.REASON_LIMIT + len("... (cut)")
    assert reason.startswith(letter["reason"].removesuffix("... (cut)"))


def test_clip_keeps_short_text_and_says_how_long_long_text_was() -> None:
    assert clip("short") == "short"
    assert clip("y" * 1000, 10) == "yyyyyyyyyy... (1,000 chars)"
