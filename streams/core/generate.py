"""Generated raw receipts for tests and benchmarks: every provider, 2-4
receipts per message, in each provider's wire format (its record's generator),
with duplicates and out-of-order pairs. Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from streams.core.providers import PROVIDERS

BASE = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)

# Each provider's generator and lifecycles (transient steps, then the final, in
# the provider's words), from its record (providers/<name>/generate.py).
FORMATS: dict[str, Callable[[int, str, str | None, dt.datetime], bytes]] = {
    name: provider.generate for name, provider in PROVIDERS.items()
}
LIFECYCLES: dict[str, list[list[str]]] = {
    name: [list(steps) for steps in provider.lifecycles] for name, provider in PROVIDERS.items()
}


@dataclass(frozen=True, slots=True)
class Generated:
    provider: str
    payload: bytes


def receipts(messages: int, *, seed: int = 7, duplicate: float = 0.1, reorder: float = 0.1,
             providers: list[str] | None = None, first_id: int = 1) -> Iterator[Generated]:
    """Receipts for `messages` messages spread over the providers, interleaved
    the way a busy gateway sends them: a message's receipts in order but for
    `reorder` of them (final first), plus `duplicate` repeated receipts."""
    rnd = random.Random(seed)
    names = providers or list(FORMATS)
    window: list[list[Generated]] = []
    for n in range(messages):
        provider = names[n % len(names)]
        mid = first_id + n
        lives = LIFECYCLES[provider]
        steps = lives[rnd.randrange(len(lives))]
        t = BASE + dt.timedelta(seconds=mid)
        out = []
        for i, step in enumerate(steps):
            word, _, code = step.partition(":")
            out.append(Generated(provider, FORMATS[provider](mid, word, code or None, t + dt.timedelta(minutes=i))))
        if rnd.random() < reorder:
            out[-1], out[-2] = out[-2], out[-1]
        if rnd.random() < duplicate:
            out.append(out[rnd.randrange(len(out))])
        window.append(out)
        if len(window) >= 8:  # interleave a few messages at a time
            yield from _drain(window, rnd)
    yield from _drain(window, rnd)


def _drain(window: list[list[Generated]], rnd: random.Random) -> Iterator[Generated]:
    while window:
        i = rnd.randrange(len(window))
        yield window[i].pop(0)
        if not window[i]:
            window.pop(i)
