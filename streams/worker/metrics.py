"""Counters an operator needs, kept in the worker and served on /metrics in
the Prometheus text format by prometheus_client, from a registry of the
worker's own: a custom collector turns the plain counters below into metric
families at scrape time, beside the standard process_* and python_* metrics.

The agents call `normalized(provider, dead, receipt)` and `emitted(topic,
status)`; the webhook views call `webhook(provider, code, seconds)`. Each is a
couple of dict increments: cheap enough for the hot path (no prometheus_client
call per receipt). Values only known at scrape time (readiness, consumer lag,
table recovery) are passed to `render` as gauges by the /metrics view."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client import generate_latest as generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.core.model import Receipt
from streams.topics import DEAD_LETTER, STATUS_CHANGES

CONTENT_TYPE = CONTENT_TYPE_LATEST

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
        self.receipts_in: Counter[str] = Counter()  # raw receipts read (a batch post: one per report), by provider
        self.normalized_ok: Counter[str] = Counter()  # of those, normalized into receipts
        self.dead_lettered: Counter[tuple[str, str]] = Counter()  # (stage, provider); fold: provider ""
        self.emitted_by_topic: Counter[str] = Counter()
        self.status_changes: Counter[str] = Counter()  # by the status reached
        self.error_categories: Counter[tuple[str, str]] = Counter()  # (category, provider) of normalized receipts
        self.receipt_warnings: Counter[tuple[str, str]] = Counter()  # (provider, field) a parser tolerated
        self.webhook_requests: Counter[tuple[str, int]] = Counter()  # (provider, HTTP status)
        self.webhook_latency: dict[str, Histogram] = {}
        # raw records left unacked because a rebalance overtook them (streams.worker.commit.Admission.stale)
        self.rereads = 0
        self.passed_over = 0  # times a partition was read again: records fetched but never processed (ledger)
        self.scrape_gauges: list[tuple[str, str, Mapping[Labels, float]]] = []
        # The worker's own registry (not prometheus_client's global one), so that
        # tests and tools can build several: its families, and on every scrape the
        # standard process_* and python_* metrics.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def normalized(self, provider: str, dead: bool, receipt: Receipt | None = None) -> None:
        """One raw receipt read (a report: a batch post has several);
        `receipt`: what it normalized into, counted by its error category
        and by what its parser tolerated."""
        self.receipts_in[provider] += 1
        if dead:
            self.dead_lettered["normalize", provider] += 1
            return
        self.normalized_ok[provider] += 1
        if receipt is None:
            return
        if receipt.error_category is not None:
            self.error_categories[receipt.error_category, provider] += 1
        for warning in receipt.warnings:  # "<field>: <what>"
            self.receipt_warnings[provider, warning.partition(":")[0]] += 1

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
        """The exposition text of this worker's registry (prometheus_client's
        generate_latest): the counters above, `gauges` (name, help, {labels:
        value}) read at scrape time (readiness, lag, table recovery), and the
        process and Python metrics."""
        self.scrape_gauges = list(gauges)
        try:
            return generate_latest(self.registry).decode()
        finally:
            self.scrape_gauges = []


class _Collector(Collector):
    """The worker's own families, built from the plain counters at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics

        def counter(name: str, help_text: str, labels: list[str], values: Iterable[tuple[Iterable[str], float]]
                    ) -> CounterMetricFamily:
            family = CounterMetricFamily(name, help_text, labels=labels)
            for label_values, value in values:
                family.add_metric(list(label_values), value)
            return family

        yield counter("dlr_receipts_in_total",
                      "Raw receipts read from dlr.raw.<provider> (one per report of a batch post).", ["provider"],
                      (((p,), n) for p, n in sorted(m.receipts_in.items())))
        yield counter("dlr_normalized_total", "Raw receipts normalized onto dlr.receipts.", ["provider"],
                      (((p,), n) for p, n in sorted(m.normalized_ok.items())))
        yield counter("dlr_dead_lettered_total", "Records written to dlr.dead-letter, by stage.", ["stage", "provider"],
                      (((s, p), n) for (s, p), n in sorted(m.dead_lettered.items())))
        yield counter("dlr_status_changes_total", "Status changes emitted, by the status reached.", ["status"],
                      (((s,), n) for s, n in sorted(m.status_changes.items())))
        yield counter("dlr_error_categories_total",
                      "Normalized receipts carrying an error category, by category and provider (duplicates included).",
                      ["category", "provider"],
                      (((str(c), p), n) for (c, p), n in sorted(m.error_categories.items())))
        yield counter("dlr_receipt_warnings_total",
                      "What parsers tolerated in normalized receipts (a field missing, unreadable or ignored), by "
                      "provider and field (duplicates included).", ["field", "provider"],
                      (((f, p), n) for (p, f), n in sorted(m.receipt_warnings.items())))
        yield counter("dlr_emitted_total", "Records written by the fold, by topic.", ["topic"],
                      (((t,), n) for t, n in sorted(m.emitted_by_topic.items())))
        yield counter("dlr_rebalance_rereads_total",
                      "Records fetched before a rebalance and left unacked: read again, outputs repeated with the same "
                      "ids.", [], [((), m.rereads)])
        yield counter("dlr_passed_over_rereads_total",
                      "Times a partition was read again because records were fetched and never processed.", [],
                      [((), m.passed_over)])
        yield counter("dlr_webhook_requests_total", "Webhook requests answered, by provider and HTTP status.",
                      ["provider", "code"], (((p, str(c)), n) for (p, c), n in sorted(m.webhook_requests.items())))
        histograms = HistogramMetricFamily(
            "dlr_webhook_request_seconds", "Webhook request latency, from arrival to answer (includes the Kafka ack).",
            labels=["provider"])
        for provider, histogram in sorted(m.webhook_latency.items()):
            histograms.add_metric([provider], histogram.cumulative(), histogram.sum)
        yield histograms
        for name, help_text, values in m.scrape_gauges:
            items = sorted(values.items())
            label_names = [k for k, _ in items[0][0]] if items else []
            gauge = GaugeMetricFamily(name, help_text, labels=label_names)
            for labels, value in items:
                gauge.add_metric([v for _, v in labels], value)
            yield gauge


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
