"""How much a property test explores: all of it under `make test` (what CI
runs: DLR_TESTS=thorough), a quarter in a developer's plain `pytest`, so the
unit tier answers in well under a minute. The same properties either way:
only the number of examples (and of positions an exhaustive test visits)
changes."""

from __future__ import annotations

import os

THOROUGH = os.environ.get("DLR_TESTS") == "thorough"


def examples(n: int) -> int:
    return n if THOROUGH else max(10, n // 4)


def every(n: int) -> int:
    """The step of an exhaustive walk: 1 (every position) when thorough."""
    return 1 if THOROUGH else n
