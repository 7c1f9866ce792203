"""The fence: every place the worker reads or replaces a private part of
faust-streaming, mode or aiokafka, in one package.

Faust stays the worker's runtime (agents, tables, changelog recovery, the web
server); these overrides close the gaps in its at-least-once path and its cost,
each named in its module with the upstream code it replaces and why:

- `fetch`: the consumer's hand-off of fetched records (stepping `wait_first`,
  the producer-buffer check, changelog pauses mirrored into aiokafka, paced
  empty fetches);
- `seeks`: records fetched before a seek never delivered after it;
- `acks`: acks held until the commit protocol releases them, stale acks
  refused, commits capped at what the ledger vouches for;
- `store`: the fold's own reads and writes of the table's store;
- `events`, `monitor`: Faust's per-message overheads;
- `VIEWS` below: what /health and /metrics read of Faust's state.

`TOUCHES` is the contract: every attribute the fence relies on, with its
expected signature. `require()` holds the installed libraries to it before the
worker starts (exit 2 with one line if anything is gone), and
tests/unit/test_faust_compat.py holds the pinned versions to it. Nothing here
falls back silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.worker.faust_compat import acks, events, fetch, monitor, seeks, store
from streams.worker.faust_compat.surface import Touch, check
from streams.worker.ledger import OffsetLedger
from streams.worker.metrics import Metrics

CONSUMER = "faust.transport.consumer:Consumer"
RECOVERY = "faust.tables.recovery:Recovery"
VIEWS = [
    Touch(CONSUMER, "_committed_offset", "consumer lag: the group's committed offsets as Faust last saw them",
          assigned=True),
    Touch("faust.app.base:App", "rebalancing", "readiness, and lag is not read mid-rebalance", assigned=True),
    Touch("faust.tables.manager:TableManager", "actives_ready", "readiness", assigned=True),
    Touch(RECOVERY, "completed", "readiness", assigned=True),
    Touch(RECOVERY, "in_recovery", "dlr_table_recovering"),
    Touch(RECOVERY, "active_tps", "recovery progress", assigned=True),
    Touch(RECOVERY, "standby_tps", "recovery progress", assigned=True),
    Touch(RECOVERY, "standby_offsets", "recovery progress", assigned=True),
    Touch(RECOVERY, "standby_highwaters", "recovery progress", assigned=True),
    Touch(RECOVERY, "tp_to_table", "recovery progress by table name", assigned=True),
    Touch(RECOVERY, "active_remaining", "recovery progress", params=()),
    Touch("faust.worker:Worker", "spinner", "set to None: its handler turns every debug call into a record",
          assigned=True),
    Touch("faust.web.drivers.aiohttp:Web", "web_app", "the aiohttp application: only our paths are served",
          assigned=True),
]
TOUCHES: list[Touch] = [*fetch.TOUCHES, *seeks.TOUCHES, *acks.TOUCHES, *store.TOUCHES, *events.TOUCHES,
                        *monitor.TOUCHES, *VIEWS]

LeanMonitor = monitor.LeanMonitor
AckHold = acks.AckHold
as_current = store.as_current


class FenceError(RuntimeError):
    """The installed faust-streaming, mode or aiokafka lack what the fence
    relies on."""


def require() -> None:
    """Raise FenceError naming everything the installed libraries lack."""
    problems = check(TOUCHES)
    if problems:
        raise FenceError(f"{len(problems)} of Faust's internals the worker relies on changed: {'; '.join(problems)}")


def at_app_creation(app: Any) -> None:
    """What must be in place before Faust compiles its per-message paths."""
    fetch.lighter_ebb(app)
    events.direct_create_event(app)


def install(app: Any, ledger: OffsetLedger[Any], sources: frozenset[str], metrics: Metrics,
            is_current: Callable[[Any], bool], on_stale: Callable[[], None]) -> bool:
    """Every override on Faust's consumer, once, before it first joins the
    group (at the first revoke, which Faust signals before the join: an app
    task would start only after the first recovery and seek, too late).
    False: aiokafka's fetcher was not started yet, so empty fetches are not
    paced (a cost, never a guarantee)."""
    consumer = app.consumer
    fetch.step_wait_first(consumer)
    fetch.pause_changelogs_in_fetcher(consumer)
    paced = fetch.pace_empty_fetches(consumer)
    seeks.SeekGuard(consumer, ledger, sources, metrics).install()
    acks.StaleAcks(consumer, is_current, on_stale, ledger, sources).install()
    acks.CommitCap(consumer, ledger, sources).install()
    return paced


def web_application(app: Any) -> Any:
    """The aiohttp application behind the app's web server (the aiohttp
    driver's), where a middleware can see every request."""
    return app.web.web_app


def committed_offsets(consumer: Any) -> Any:
    """The group's committed offset per partition, as Faust's consumer last
    committed or sought it (None: none, or 0)."""
    return consumer._committed_offset
