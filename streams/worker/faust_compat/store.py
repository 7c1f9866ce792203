"""The fold's reads and writes of Faust's table store, under Faust's own
table API: the fold writes the store and the changelog itself, in the order
docs/commit-order.md gives (Faust's `Table.__setitem__` writes the store, then
the changelog through a buffer it never awaits).

- `as_current` sets `faust.streams._current_event`: a table picks the store
  partition (and the changelog partition) from the current event, which in a
  `take_events` batch is not the one being folded. The stream's own
  `_set_current_event` is not safe here: it races the take buffer
  (faust-streaming issue #497).
- `reader` is the store's own read, in place of `Table.get` (a sensor call
  and, for a new message, a KeyError raised and caught twice): RocksDB's
  `Store._get`, the memory store's dict.
- `record_changelog_offset` is what Faust's own changelog callback does
  (`Store.set_persisted_offset`): recovery reads the changelog on from there."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from faust.streams import _current_event
from faust.types import TP

from streams.worker.faust_compat.surface import Touch

TOUCHES = [
    Touch("faust.streams", "_current_event", "as_current sets the event a table reads its partition from"),
    Touch("faust.stores.rocksdb:Store", "_get", "the fold reads RocksDB states with it", params=("key",)),
    Touch("faust.stores.rocksdb:Store", "set_persisted_offset", "the fold records its changelog offsets",
          params=("tp", "offset")),
    Touch("faust.stores.base:Store", "set_persisted_offset", "the fold records its changelog offsets",
          params=("tp", "offset")),
    Touch("faust.stores.memory:Store", "data", "the memory store's dict, read by the fold", assigned=True),
    Touch("faust.tables.base:Collection", "data", "the table's store"),
]


def as_current(event: Any) -> None:
    """Make `event` the current event for the table's partition choice."""
    _current_event.set(weakref.ref(event))


def reader(table: Any) -> Callable[[bytes], bytes | None]:
    """The store's own read of a key's raw bytes (None: absent)."""
    from faust.stores import memory, rocksdb

    store = table.data
    if isinstance(store, rocksdb.Store):
        return store._get
    if isinstance(store, memory.Store):
        return store.data.get
    raise TypeError(f"dlr worker: no state read for Faust store {type(store).__name__}")


def write(table: Any, key: bytes, value: bytes) -> None:
    """Into the table's store only (the fold writes the changelog itself)."""
    table.data[key] = value


def record_changelog_offset(table: Any, topic: str, partition: int, offset: int) -> None:
    table.data.set_persisted_offset(TP(topic, partition), offset)
