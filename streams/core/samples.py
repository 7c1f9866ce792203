"""Sample receipts from every provider, as they arrive: out of order, duplicated,
and one bad line each. `dlr up` feeds them; the tests use them too. Each
provider keeps its own in its folder (providers/<name>/samples.txt, named by
its `Provider` record)."""

from __future__ import annotations

from pathlib import Path

from streams.core.providers import PROVIDERS


def path(provider: str) -> Path:
    return PROVIDERS[provider].samples


def lines(provider: str) -> list[bytes]:
    return [line for line in path(provider).read_bytes().splitlines() if line.strip()]


def all_lines() -> dict[str, list[bytes]]:
    return {provider: lines(provider) for provider in PROVIDERS}
