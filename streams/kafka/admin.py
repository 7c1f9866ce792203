"""Creating topics and talking to the broker outside the Faust app."""

from __future__ import annotations

from typing import Any

from streams.topics import TopicSpec, specs


def client_config(bootstrap: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """librdkafka settings: the bootstrap plus SASL/SSL passed through."""
    from streams import settings

    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "log_level": 3}
    config.update(settings.kafka_security())
    config.update(extra or {})
    return config


def ensure_topics(bootstrap: str, partitions: int, topics: list[TopicSpec] | None = None,
                  timeout: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created.
    An existing topic with another partition count is an error: co-partitioning
    of receipts and the state changelog depends on it."""
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient(client_config(bootstrap))
    wanted = topics if topics is not None else specs()
    existing = admin.list_topics(timeout=timeout).topics
    for spec in wanted:
        meta = existing.get(spec.name)
        if meta is not None and len(meta.partitions) != partitions:
            raise RuntimeError(
                f"topic {spec.name} has {len(meta.partitions)} partitions, dlr-streams is set to {partitions}"
                " (DLR_PARTITIONS); they must agree"
            )
    missing = [s for s in wanted if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=partitions, replication_factor=-1, config=s.config()) for s in missing],
        operation_timeout=timeout, request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):  # a concurrent creator won: fine
                raise
    return created
