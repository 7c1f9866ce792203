"""`dlr normalize` and `dlr fold`: the core, driven from files or pipes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from streams.core import providers
from streams.core.fold import Emitted, fold_all
from streams.core.model import MessageState, Receipt, ReceiptError
from streams.core.records import receipt_from_json, to_json


def lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Input lines as bytes, untouched but for the line ending."""
    for raw in stream:
        yield raw.rstrip(b"\r\n")


def dump(obj: dict[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def normalize(provider: str, source: IO[bytes], out: IO[str], options: providers.Options) -> int:
    """One JSON line per receipt (a line of a batch provider may hold
    several), and one error line, with the input line's number, per report
    that cannot be read."""
    failed = 0
    for number, line in enumerate(lines(source), 1):
        for result in providers.normalize_all(provider, line, options):
            if isinstance(result, ReceiptError):
                failed += 1
                dump({"line": number, "error": str(result)}, out)
            else:
                dump(to_json(result), out)
    return 1 if failed else 0


def fold_raw(lines: dict[str, list[bytes]]) -> tuple[dict[str, MessageState], list[Emitted], int]:
    """Raw receipts per provider, normalized and folded offline: what the stream
    must produce for them. Returns the states, what the fold emits, and how many
    reports are bad (dead letters in the stream)."""
    receipts: list[Receipt] = []
    bad = 0
    options = providers.Options(received_at=0)
    for provider, provider_lines in lines.items():
        for line in provider_lines:
            for result in providers.normalize_all(provider, line, options):
                if isinstance(result, ReceiptError):
                    bad += 1
                else:
                    receipts.append(result)
    states, emitted = fold_all(receipts)
    return states, emitted, bad


def fold(source: IO[bytes], out: IO[str], states: bool) -> int:
    receipts: list[Receipt] = []
    failed = skipped = 0
    for number, line in enumerate(lines(source), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and "error" in data and "provider" not in data:
                skipped += 1  # an error line passed on by `dlr normalize`
                continue
            if not isinstance(data, dict):
                raise ReceiptError("not a JSON object")
            receipts.append(receipt_from_json(data))
        except (ValueError, ReceiptError) as exc:
            failed += 1
            dump({"line": number, "error": str(exc)}, out)
    final_states, emitted = fold_all(receipts)
    for event in emitted:
        dump(to_json(event), out)
    if states:
        for key in sorted(final_states):
            dump(to_json(final_states[key]), out)
    if skipped:
        print(f"dlr fold: skipped {skipped} error line(s) from dlr normalize", file=sys.stderr)
    return 1 if failed else 0
