"""The Faust app: topics, the state table, and the agents. Wiring only; what
happens to a record is in `steps`.

Values and keys are raw bytes to Faust: we encode Avro ourselves with fastavro
(Faust's codec layer is slower and we need the single-object framing)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import faust

from streams import providers, settings
from streams.pipeline import steps
from streams.pipeline.metrics import Metrics
from streams.topics import APP_ID, CHARGE_CHANGES, DEAD_LETTER, RECEIPTS, STATUS_CHANGES, raw_topic, state_table

log = logging.getLogger("dlr.worker")

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


def _source(event: faust.EventT[bytes]) -> steps.Source:
    message = event.message
    return steps.Source(message.topic, message.partition, message.offset, message.key,
                        int(message.timestamp * 1_000_000))


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
        topic_allow_declare=False,  # topics are created by `streams.admin`, with their settings
        processing_guarantee=config.guarantee,
        autodiscover=False,
        web_enabled=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=min(3.0, config.session_timeout / 3),
    )
    metrics = Metrics()
    app.dlr_metrics = metrics  # type: ignore[attr-defined]
    options = settings.parse_options()
    sinks = {name: app.topic(name, partitions=config.partitions, **RAW)
             for name in (RECEIPTS, STATUS_CHANGES, CHARGE_CHANGES, DEAD_LETTER)}

    async def send(out: steps.Out) -> None:
        await sinks[out.topic].send(key=out.key, value=out.value)

    for provider in providers.names():
        _normalize_agent(app, provider, options, send, metrics, config.partitions)

    states = app.Table(state_table(config.state_version), default=None, partitions=config.partitions,
                       key_type=bytes, value_type=bytes)

    @app.agent(sinks[RECEIPTS], name="fold")
    async def fold(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            key = event.key
            new_state, outs = steps.fold_one(states.get(key), event.value, _source(event))
            if new_state is not None:
                states[key] = new_state
            for out in outs:
                await send(out)
                metrics.emitted(out.topic)
            yield None

    return app


def _normalize_agent(app: faust.App, provider: str, options: providers.Options,
                     send: Any, metrics: Metrics, partitions: int) -> None:
    topic = app.topic(raw_topic(provider), partitions=partitions, **RAW)

    async def normalize(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            out = steps.normalize(provider, event.value, _source(event), options)
            await send(out)
            metrics.normalized(provider, out.topic == DEAD_LETTER)
            yield None

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
