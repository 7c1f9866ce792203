"""Sample receipts from every provider, as they arrive: out of order, duplicated,
and one bad line each. `dlr up` feeds them; the tests use them too."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers import names

HERE = Path(__file__).parent


def path(provider: str) -> Path:
    return HERE / f"{provider}.txt"


def lines(provider: str) -> list[bytes]:
    return [line for line in path(provider).read_bytes().splitlines() if line.strip()]


def all_lines() -> dict[str, list[bytes]]:
    return {provider: lines(provider) for provider in names()}
