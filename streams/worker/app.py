"""The Faust app: topics, the state table, and the agents. Wiring only; what
happens to a record is in `steps`.

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
from streams.worker import drain, steps
from streams.worker.acks import CommitCap, Done, StaleAcks, acked_when_done
from streams.worker.folding import Folder, Gate, Item
from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics
from streams.worker.monitor import LeanMonitor
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
    bootstrap: str
    partitions: int = 4
    store: str = "rocksdb://"
    data_dir: str = ".dlr"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    guarantee: str = "at_least_once"
    session_timeout: float = 30.0
    state_version: int = 1

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
        monitor=LeanMonitor(),
        web_enabled=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=min(3.0, config.session_timeout / 3),
        # Measured (research notes in the README's performance section): linger
        # and large batches are the biggest single producer gain.
        producer_linger=0.005,
        producer_max_batch_size=262_144,
        stream_buffer_maxsize=32_768,
        # Commits on the timer only (every 2.8 s, Faust's default; Kafka
        # Streams commits every 30 s). Faust's commit every N records runs
        # inside its fetch loop: no record reached any agent until the broker
        # answered the commit. At 8,650 receipts/s that stalled the worker
        # for 100-500 ms about once a second (p99 latency 255-830 ms; 160-250
        # on the timer alone). None is not accepted here: never reached.
        broker_commit_every=sys.maxsize,
        # Faust's wait for in-flight events on a rebalance (stream_wait_empty)
        # lost hundreds of receipts in the kill -9 test (offsets committed
        # past records never processed). At a stop or a rebalance, a batch in
        # flight is read again (streams.worker.acks, drain.SeekGuard).
        stream_wait_empty=False,
        # A dead letter carries its original record whole, up to a 1 MB receipt
        # in its envelope: more than the default 1 MB request.
        producer_max_request_size=4 * 1024 * 1024,
    )
    drain.lighter_ebb(app)
    # Faust's App.create_event looks its Event class up in the settings
    # registry for every message (1.6% of the worker): looked up once here,
    # before the topics compile their decoders, which take the method then.
    event_class: Any = app.conf.Event
    app.create_event = partial(event_class, app)  # type: ignore[method-assign]
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

    guarded = False
    ledger: OffsetLedger[Any] = OffsetLedger()
    sources = frozenset([*(raw_topic(provider) for provider in providers.names()), REPARTITION])

    def guard_consumer() -> None:
        """Faust's consumer with the hand-off, ack and commit fixes (`drain`,
        `acks`, `ledger`). Installed at the first revoke, which Faust signals
        before it joins the group: an app task would start only after the
        first recovery and seek, too late for all of them."""
        nonlocal guarded
        if guarded:
            return
        guarded = True
        drain.install(app.consumer)
        drain.pause_changelogs_in_fetcher(app.consumer)
        if not drain.pace_empty_fetches(app.consumer):
            log.warning("dlr worker: aiokafka's fetcher not started at the first rebalance; empty fetches not paced")
        drain.SeekGuard(app.consumer, ledger, sources, metrics).install()
        StaleAcks(app, metrics, ledger, sources).install()
        CommitCap(app.consumer, ledger, sources).install()

    async def on_start() -> None:
        guard_consumer()
        if output is not None:
            await output.warm([*sinks, changelog(config.state_version)])
        # What start-up made lives as long as the worker: frozen, it is out of
        # the collector's sight, and a full collection no longer walks every
        # object of Faust, aiokafka and mode (measured at 9,100 receipts/s:
        # pauses of 8-24 ms about once a second before, 0.1-0.3 ms after).
        gc.freeze()

    app.task(on_start)

    states = app.Table(state_table(config.state_version), default=None, partitions=config.partitions,
                       key_type=bytes, value_type=bytes)
    folder = Folder(states, metrics, Gate(app), changelog_outbox)

    def admitted(events: Sequence[faust.EventT[bytes]], done: Done) -> list[faust.EventT[bytes]]:
        """The events of a batch to process now: of the current generation,
        and each the next of its partition (`OffsetLedger.admit`). The rest
        are kept out, never acked, and read again in order."""
        generation = app.consumer_generation_id
        expect: dict[Any, int] = {}
        admit = ledger.admit
        now = []
        for event in events:
            message = event.message
            if message.generation_id == generation and admit(message.tp, message.offset, expect):
                now.append(event)
            else:
                done.keep_out(message)
        return now

    @app.on_partitions_revoked.connect
    async def on_revoked(_app: Any, /, *_: Any, **__: Any) -> None:
        guard_consumer()
        ledger.forget()  # vouches again from the committed offsets the next seek finds
        await folder.gate.drained()  # before the table is recovered (folding.Gate)

    for provider in providers.names():
        _normalize_agent(app, provider, options, outbox, folder, metrics, config.partitions, admitted)

    @app.agent(sinks[REPARTITION], name="fold")
    async def fold_repartitioned(stream: faust.StreamT[bytes]) -> None:
        async for events in batches(stream):
            with acked_when_done(events) as done:
                items: list[Item] = [(cast(bytes, e.key), None, e.value, e) for e in admitted(events, done)]
                if not await folder.fold(items, outbox()):
                    done.withhold()

    return app


Admission = Callable[[Sequence[faust.EventT[bytes]], Done], list[faust.EventT[bytes]]]


def _normalize_agent(app: faust.App, provider: str, options: providers.Options, outbox: Callable[[], Outbox],
                     folder: Folder, metrics: Metrics, partitions: int, admitted: Admission) -> None:
    topic = app.topic(raw_topic(provider), partitions=partitions, **RAW)

    async def normalize(stream: faust.StreamT[bytes]) -> None:
        async for events in batches(stream):
            with acked_when_done(events) as done:
                out_box = outbox()
                here: list[Item] = []
                for event in admitted(events, done):
                    result = steps.normalize_receipt(provider, event.value, steps.source_of(event), options)
                    out = result.out
                    await out_box.send(out.topic, out.key, out.value)  # the canonical receipt, or a dead letter
                    metrics.normalized(provider, out.topic == DEAD_LETTER, result.receipt)
                    if result.receipt is None or out.key is None:
                        continue
                    if event.message.partition == partition_for(out.key, partitions):
                        # Already on the partition that holds this message's state
                        # (gateways key raw records by message key): fold here, no
                        # second trip through the broker.
                        here.append((out.key, result.receipt, None, event))
                    else:
                        await out_box.send(REPARTITION, out.key, out.value)
                # Folds, then waits for every output of the batch (the receipts
                # above too) before the states are written and Faust acks the batch.
                if not await folder.fold(here, out_box):
                    done.withhold()

    app.agent(topic, name=f"normalize-{provider}")(normalize)


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
