"""Counters an operator needs, kept in the worker and served on /metrics."""

from __future__ import annotations

from collections import Counter

from streams.topics import DEAD_LETTER


class Metrics:
    def __init__(self) -> None:
        self.receipts_in: Counter[str] = Counter()
        self.dead_lettered: Counter[str] = Counter()
        self.emitted_by_topic: Counter[str] = Counter()

    def normalized(self, provider: str, dead: bool) -> None:
        self.receipts_in[provider] += 1
        if dead:
            self.dead_lettered[provider] += 1

    def emitted(self, topic: str) -> None:
        self.emitted_by_topic[topic] += 1
        if topic == DEAD_LETTER:
            self.dead_lettered["fold"] += 1
