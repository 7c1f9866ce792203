"""Counters an operator needs, kept in the worker and served on /metrics in
the Prometheus text exposition format (version 0.0.4), written by hand: a
dozen series need no client library.

The agents call `normalized(provider, dead, receipt)` and `emitted(topic,
status)`; the webhook views call `webhook(provider, code, seconds)`. Each is a
couple of dict increments: cheap enough for the hot path. Values only known at
scrape time (readiness, consumer lag, table recovery) are passed to `render`
as gauges by the /metrics view."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping

from streams.core.model import Receipt
from streams.topics import DEAD_LETTER, STATUS_CHANGES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds; a webhook is answered once Kafka acks, normally within milliseconds.
LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        out, total = [], 0
        for bound, count in zip([*map(_number, self.buckets), "+Inf"], self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


class Metrics:
    def __init__(self) -> None:
        self.receipts_in: Counter[str] = Counter()  # raw records read, by provider
        self.normalized_ok: Counter[str] = Counter()  # of those, normalized into receipts
        self.dead_lettered: Counter[tuple[str, str]] = Counter()  # (stage, provider); fold: provider ""
        self.emitted_by_topic: Counter[str] = Counter()
        self.status_changes: Counter[str] = Counter()  # by the status reached
        self.error_categories: Counter[tuple[str, str]] = Counter()  # (category, provider) of normalized receipts
        self.webhook_requests: Counter[tuple[str, int]] = Counter()  # (provider, HTTP status)
        self.webhook_latency: dict[str, Histogram] = {}
        # raw records left unacked because a rebalance overtook them (streams.worker.commit.Admission.stale)
        self.rereads = 0
        self.passed_over = 0  # times a partition was read again: records fetched but never processed (ledger)

    def normalized(self, provider: str, dead: bool, receipt: Receipt | None = None) -> None:
        """One raw record read; `receipt`: what it normalized into, counted by
        its error category when it carries one."""
        self.receipts_in[provider] += 1
        if dead:
            self.dead_lettered["normalize", provider] += 1
            return
        self.normalized_ok[provider] += 1
        if receipt is not None and receipt.error_category is not None:
            self.error_categories[receipt.error_category, provider] += 1

    def emitted(self, topic: str, status: str | None = None) -> None:
        """One record written by the fold. `status`: the status a StatusChange
        reached (StatusChange.status), counted by status."""
        self.emitted_by_topic[topic] += 1
        if topic == DEAD_LETTER:
            self.dead_lettered["fold", ""] += 1
        elif status is not None and topic == STATUS_CHANGES:
            self.status_changes[str(status)] += 1

    def webhook(self, provider: str, code: int, seconds: float) -> None:
        self.webhook_requests[provider, code] += 1
        histogram = self.webhook_latency.get(provider)
        if histogram is None:
            histogram = self.webhook_latency[provider] = Histogram()
        histogram.observe(seconds)

    def render(self, gauges: Iterable[tuple[str, str, Mapping[Labels, float]]] = ()) -> str:
        """The exposition text; `gauges` (name, help, {labels: value}) are
        values read at scrape time (readiness, lag, table recovery)."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, Labels, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{sample}{_labels(labels)} {_number(value)}" for sample, labels, value in samples)

        family("dlr_receipts_in_total", "counter", "Raw receipts read from dlr.raw.<provider>.",
               ((("dlr_receipts_in_total", (("provider", p),), n)) for p, n in sorted(self.receipts_in.items())))
        family("dlr_normalized_total", "counter", "Raw receipts normalized onto dlr.receipts.",
               (("dlr_normalized_total", (("provider", p),), n) for p, n in sorted(self.normalized_ok.items())))
        family("dlr_dead_lettered_total", "counter", "Records written to dlr.dead-letter, by stage.",
               (("dlr_dead_lettered_total", (("stage", s), ("provider", p)), n)
                for (s, p), n in sorted(self.dead_lettered.items())))
        family("dlr_status_changes_total", "counter", "Status changes emitted, by the status reached.",
               (("dlr_status_changes_total", (("status", s),), n) for s, n in sorted(self.status_changes.items())))
        family("dlr_error_categories_total", "counter",
               "Normalized receipts carrying an error category, by category and provider (duplicates included).",
               (("dlr_error_categories_total", (("category", str(c)), ("provider", p)), n)
                for (c, p), n in sorted(self.error_categories.items())))
        family("dlr_emitted_total", "counter", "Records written by the fold, by topic.",
               (("dlr_emitted_total", (("topic", t),), n) for t, n in sorted(self.emitted_by_topic.items())))
        family("dlr_rebalance_rereads_total", "counter",
               "Records fetched before a rebalance and left unacked: read again, outputs repeated with the same ids.",
               [("dlr_rebalance_rereads_total", (), self.rereads)])
        family("dlr_passed_over_rereads_total", "counter",
               "Times a partition was read again because records were fetched and never processed.",
               [("dlr_passed_over_rereads_total", (), self.passed_over)])
        family("dlr_webhook_requests_total", "counter", "Webhook requests answered, by provider and HTTP status.",
               (("dlr_webhook_requests_total", (("provider", p), ("code", str(c))), n)
                for (p, c), n in sorted(self.webhook_requests.items())))
        histogram_samples: list[tuple[str, Labels, float]] = []
        for provider, histogram in sorted(self.webhook_latency.items()):
            for bound, total in histogram.cumulative():
                histogram_samples.append(
                    ("dlr_webhook_request_seconds_bucket", (("provider", provider), ("le", bound)), total))
            histogram_samples.append(("dlr_webhook_request_seconds_sum", (("provider", provider),), histogram.sum))
            histogram_samples.append(("dlr_webhook_request_seconds_count", (("provider", provider),), histogram.count))
        family("dlr_webhook_request_seconds", "histogram",
               "Webhook request latency, from arrival to answer (includes the Kafka ack).", histogram_samples)
        for name, help_text, values in gauges:
            family(name, "gauge", help_text, ((name, labels, v) for labels, v in sorted(values.items())))
        return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
