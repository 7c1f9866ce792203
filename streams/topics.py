"""Every topic dlr-streams uses: names, keys, partitions, retention. The one
place they are defined; the app, the CLI, the admin code and deploy/ checks
all read them from here. Topics are always created explicitly (never left to
broker auto-creation, which gives the wrong partition count)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from streams.core.providers import names as provider_names

RAW_PREFIX = "dlr.raw."
RECEIPTS = "dlr.receipts"
# Internal: receipts whose raw record sat on another partition than their
# message key's, on their way to the partition that holds the message state.
REPARTITION = "dlr-streams-receipts-repartition"
STATUS_CHANGES = "dlr.status-changes"
CHARGE_CHANGES = "dlr.charge-changes"
DEAD_LETTER = "dlr.dead-letter"
APP_ID = "dlr-streams"
STATE_TABLE = "message-state"


def state_table(version: int = 1) -> str:
    """The state table's name. `dlr rebuild` folds from scratch into a new
    version; version 1 keeps the original name."""
    return STATE_TABLE if version == 1 else f"{STATE_TABLE}-v{version}"


def changelog(version: int = 1) -> str:
    return f"{APP_ID}-{state_table(version)}-changelog"  # faust's naming: <app id>-<table>-changelog


CHANGELOG = changelog(1)

DAY_MS = 86_400_000

# Short names accepted by `dlr tail`.
SHORT_NAMES = {
    "receipts": RECEIPTS,
    "status-changes": STATUS_CHANGES,
    "charge-changes": CHARGE_CHANGES,
    "dead-letter": DEAD_LETTER,
}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    record: str  # Avro record name of the values
    key: str  # what the key is
    retention_ms: int  # -1: forever
    compacted: bool = False

    def config(self) -> dict[str, str]:
        return {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": str(self.retention_ms),
        }


@lru_cache(maxsize=1 << 15)  # a message's 3-4 receipts come close together: most are hits
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Faust's producer (aiokafka's DefaultPartitioner, the Java
    client's murmur2) picks for a key: a message's receipts, state and changes
    all live on this partition number."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORDS = [struct.Struct(f"<{n}I").unpack_from for n in range(64)]


def murmur2(key: bytes) -> int:
    """Kafka's murmur2 (Java `Utils.murmur2`) as an unsigned 32-bit int, equal
    to aiokafka's. Ours reads the key four bytes at a time: the worker hashes
    every receipt's key, and aiokafka's byte-by-byte loop cost 4% of its time."""
    length = len(key)
    h = 0x9747B28C ^ length
    words = length >> 2
    for k in (_WORDS[words] if words < 64 else struct.Struct(f"<{words}I").unpack_from)(key):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length & 3
    if extra:
        tail = length & ~3
        if extra == 3:
            h ^= key[tail + 2] << 16
        if extra >= 2:
            h ^= key[tail + 1] << 8
        h = ((h ^ key[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def raw_topic(provider: str) -> str:
    return RAW_PREFIX + provider


def specs(state_version: int = 1) -> list[TopicSpec]:
    """All topics; raw topics hold the source of truth and are kept longest,
    so a replay after a mapping fix can reach back a quarter."""
    raw = [TopicSpec(raw_topic(p), "RawReceipt", "as the gateway chose (may be empty)", 90 * DAY_MS)
           for p in provider_names()]
    return [
        *raw,
        TopicSpec(RECEIPTS, "Receipt", "message key provider:message_id", 7 * DAY_MS),
        TopicSpec(REPARTITION, "Receipt", "message key provider:message_id", DAY_MS),
        TopicSpec(STATUS_CHANGES, "StatusChange", "message key provider:message_id", 30 * DAY_MS),
        TopicSpec(CHARGE_CHANGES, "ChargeChange", "message key provider:message_id", 90 * DAY_MS),
        TopicSpec(DEAD_LETTER, "DeadLetter", "the source record's key", 30 * DAY_MS),
        TopicSpec(changelog(state_version), "MessageState", "message key provider:message_id", -1, compacted=True),
    ]


def resolve(name: str) -> str:
    """A topic named in full or by its short name."""
    return SHORT_NAMES.get(name, name)
