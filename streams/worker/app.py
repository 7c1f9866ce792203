"""The Faust app: topics, the state table, and the agents. Wiring only: what
happens to a record is in `steps`, when its batch may be committed in
`commit`, and every override of Faust's internals in `faust_compat`.

Values and keys are raw bytes to Faust: we encode Avro ourselves
(streams.serde.compiled_codec; Faust's codec layer is slower and we need the
single-object framing)."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import faust

from streams import settings
from streams.core import providers
from streams.topics import (
    APP_ID,
    CHARGE_CHANGES,
    DEAD_LETTER,
    RECEIPTS,
    REPARTITION,
    STATUS_CHANGES,
    changelog,
    partition_for,
    raw_topic,
    state_table,
)
from streams.worker import faust_compat, steps
from streams.worker.commit import CommitProtocol, Item
from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics
from streams.worker.output import Batch, FaustOutbox, Outbox, Output
from streams.worker.webhooks import register

log = logging.getLogger("dlr.worker")

# Events are taken in batches: acked after the whole batch is processed, so a
# crash mid-batch re-reads it (at-least-once). Every step catches its own
# errors: an exception escaping a batch would ack it unprocessed.
BATCH = 1000
BATCH_WITHIN = 0.02

RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What the app is built from. The defaults are the settings' own
    (streams.settings): made by `from_settings`, never declared twice."""

    bootstrap: str
    partitions: int
    store: str
    data_dir: str
    web_host: str
    web_port: int
    guarantee: str
    session_timeout: float
    state_version: int

    @classmethod
    def from_settings(cls, bootstrap: str) -> WorkerConfig:
        return cls(
            bootstrap=bootstrap, partitions=settings.get_int("partitions"), store=settings.get("store"),
            data_dir=settings.get("data_dir"), web_host=settings.get("web_host"),
            web_port=settings.get_int("web_port"), guarantee=settings.get("processing_guarantee"),
            session_timeout=float(settings.get_int("session_timeout")),
            state_version=settings.get_int("state_version"),
        )


def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
    return cast(faust.Stream[bytes], stream).take_events(BATCH, within=BATCH_WITHIN)


def create_app(config: WorkerConfig) -> faust.App:
    app = faust.App(
        APP_ID,
        broker=[f"kafka://{host}" for host in config.bootstrap.split(",")],
        broker_credentials=_credentials(),
        store=config.store,
        datadir=config.data_dir,
        web_bind=config.web_host,
        web_host=config.web_host,
        web_port=config.web_port,
        topic_partitions=config.partitions,
        topic_allow_declare=False,  # topics are created by `streams.kafka.admin`, with their settings
        processing_guarantee=config.guarantee,
        autodiscover=False,
        monitor=faust_compat.LeanMonitor(),
        web_enabled=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=min(3.0, config.session_timeout / 3),
        # Linger and large batches: the biggest single producer gain measured
        # (README, performance).
        producer_linger=0.005,
        producer_max_batch_size=262_144,
        stream_buffer_maxsize=32_768,
        # Commits on the timer only (every 2.8 s, Faust's default; Kafka
        # Streams commits every 30 s). Faust's commit every N records runs
        # inside its fetch loop: no record reaches any agent until the broker
        # has answered it. None is not accepted here: never reached.
        broker_commit_every=sys.maxsize,
        # Faust's wait for in-flight events on a rebalance (stream_wait_empty)
        # commits offsets past records never processed (docs/commit-order.md).
        # At a stop or a rebalance, a batch in flight is read again
        # (streams.worker.commit).
        stream_wait_empty=False,
        # A dead letter carries its original record whole, up to a 1 MB receipt
        # in its envelope: more than the default 1 MB request.
        producer_max_request_size=4 * 1024 * 1024,
    )
    faust_compat.at_app_creation(app)
    metrics = Metrics()
    app.dlr_metrics = metrics  # type: ignore[attr-defined]
    register(app, metrics)  # webhook receivers, /health, /metrics
    options = settings.parse_options()
    sinks = {name: app.topic(name, partitions=config.partitions, **RAW)
             for name in (RECEIPTS, REPARTITION, STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER)}

    outbox: Callable[[], Outbox]
    changelog_outbox: Callable[[], Batch] | None
    output: Output | None = None
    if config.guarantee == "exactly_once":
        outbox = partial(FaustOutbox, sinks)  # through the topics: inside the transaction
        changelog_outbox = None  # Faust's table writes it, in the transaction
    else:
        output = Output(config.bootstrap)
        outbox = changelog_outbox = output.outbox

        @app.on_before_shutdown.connect
        async def flush_outputs(_app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
            output.close()

    ledger: OffsetLedger[Any] = OffsetLedger()
    sources = frozenset([*(raw_topic(provider) for provider in providers.names()), REPARTITION])
    states = app.Table(state_table(config.state_version), default=None, partitions=config.partitions,
                       key_type=bytes, value_type=bytes)
    protocol = CommitProtocol(app, states, metrics, outbox, changelog_outbox, ledger)
    fenced = False

    def fence() -> None:
        nonlocal fenced
        if fenced:
            return
        fenced = True
        admission = protocol.admission
        if not faust_compat.install(app, ledger, sources, metrics, admission.is_current, admission.stale):
            log.warning("dlr worker: aiokafka's fetcher not started at the first rebalance; empty fetches not paced")

    async def on_start() -> None:
        fence()
        if output is not None:
            await output.warm([*sinks, changelog(config.state_version)])
        # What start-up made lives as long as the worker: frozen, it is out of
        # the collector's sight, and a full collection no longer walks every
        # object of Faust, aiokafka and mode.
        gc.freeze()

    app.task(on_start)

    @app.on_partitions_revoked.connect
    async def on_revoked(_app: Any, /, *_: Any, **__: Any) -> None:
        fence()  # the first revoke comes before Faust first joins the group
        ledger.forget()  # vouches again from the committed offsets the next seek finds
        await protocol.gate.drained()  # no fold in flight when the table is recovered

    for provider in providers.names():
        _normalize_agent(app, provider, options, protocol, metrics, config.partitions)

    async def fold_work(events: list[faust.EventT[bytes]], _outbox: Outbox) -> list[Item]:
        return [Item(cast(bytes, e.key), None, e.value, e) for e in events]

    @app.agent(sinks[REPARTITION], name="fold")
    async def fold_repartitioned(stream: faust.StreamT[bytes]) -> None:
        async for events in batches(stream):
            await protocol.run(events, fold_work)

    return app


def _normalize_agent(app: faust.App, provider: str, options: providers.Options, protocol: CommitProtocol,
                     metrics: Metrics, partitions: int) -> None:
    topic = app.topic(raw_topic(provider), partitions=partitions, **RAW)

    async def normalize(events: list[faust.EventT[bytes]], outbox: Outbox) -> list[Item]:
        """Step 2 of the commit protocol: each raw record to its canonical
        receipt (or a dead letter) into the outbox; what to fold here."""
        here: list[Item] = []
        for event in events:
            # One receipt per report (a batch at some providers), or dead letters.
            for result in steps.normalize_receipts(provider, event.value, steps.source_of(event), options):
                out = result.out
                await outbox.send(out.topic, out.key, out.value)  # the canonical receipt, or a dead letter
                metrics.normalized(provider, out.topic == DEAD_LETTER, result.receipt)
                if result.receipt is None or out.key is None:
                    continue
                if event.message.partition == partition_for(out.key, partitions):
                    # Already on the partition that holds this message's state
                    # (gateways key raw records by message key): fold here, no
                    # second trip through the broker.
                    here.append(Item(out.key, result.receipt, None, event))
                else:
                    await outbox.send(REPARTITION, out.key, out.value)
        return here

    async def agent(stream: faust.StreamT[bytes]) -> None:
        async for events in batches(stream):
            await protocol.run(events, normalize)

    app.agent(topic, name=f"normalize-{provider}")(agent)


def _credentials() -> Any:
    """SASL/SSL from settings, as Faust wants them (None: plaintext)."""
    security = settings.kafka_security()
    if not security.get("sasl.mechanism"):
        if security.get("security.protocol", "").upper() == "SSL":
            import ssl

            return faust.SSLCredentials(ssl.create_default_context(cafile=security.get("ssl.ca.location")))
        return None
    ssl_context = None
    if security.get("security.protocol", "").upper() == "SASL_SSL":
        import ssl

        ssl_context = ssl.create_default_context(cafile=security.get("ssl.ca.location"))
    return faust.SASLCredentials(
        username=security.get("sasl.username"), password=security.get("sasl.password"),
        mechanism=security["sasl.mechanism"], ssl_context=ssl_context,
    )
