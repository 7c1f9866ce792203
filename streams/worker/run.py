"""`dlr worker`: one Faust worker process."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from streams import settings
from streams.core.mappings import MappingError
from streams.kafka.admin import ensure_topics
from streams.serde import encoders
from streams.serde.registry import RegistryError
from streams.topics import specs
from streams.worker import faust_compat, logs
from streams.worker.app import WorkerConfig, create_app

# Present while a worker runs, removed on a clean stop. Found at start, it
# means the last run crashed: the local RocksDB store may then hold states
# whose changelog records never reached Kafka (Faust writes the store first and
# never reconciles the two), so the store is dropped and rebuilt from the
# changelog, which is what a fresh worker does anyway.
RUNNING_MARKER = ".worker-running"


def discard_state_after_crash(data_dir: Path) -> bool:
    marker = data_dir / RUNNING_MARKER
    crashed = marker.exists()
    if crashed:
        for tables in data_dir.glob("v*/tables"):
            shutil.rmtree(tables, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return crashed


def run(config: WorkerConfig, log_level: str = "info", log_format: str = "text") -> int:
    import faust

    try:
        from mode.utils.logging import level_number

        log_config = logs.logging_config(log_format, level_number(log_level))
    except ValueError as exc:
        print(f"dlr worker: {exc}", file=sys.stderr)
        return 2
    try:
        # Before anything else: the worker's guarantees rest on the overrides
        # in the fence, and an upgrade that removed what they replace must
        # stop the start, not let the worker run without them.
        faust_compat.require()
    except faust_compat.FenceError as exc:
        print(f"dlr worker: {exc}", file=sys.stderr)
        return 2
    try:
        # The mapping file (DLR_MAPPINGS) every receipt is read with: a bad
        # entry stops the start with one line naming it, never a record.
        mappings = settings.mappings()
    except MappingError as exc:
        print(f"dlr worker: {exc}", file=sys.stderr)
        return 2
    if mappings is not None:
        words, codes = mappings.counts()
        print(f"dlr worker: {settings.SETTINGS['mappings'].env} {settings.get('mappings').strip()}: "
              f"{words} status word(s), {codes} error code(s) read before the providers' tables", file=sys.stderr)
    try:
        # Every output's encoder, before anything else: with DLR_SCHEMA_REGISTRY_URL
        # set, every schema is registered now, so a registry that cannot be
        # reached or refuses a schema stops the start, never a record.
        encoders.use(encoders.Encoders.resolve(config.state_version))
    except RegistryError as exc:
        print(f"dlr worker: schema registry: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    data_dir = Path(config.data_dir)
    if discard_state_after_crash(data_dir):
        print("dlr worker: the last run did not stop cleanly: local state dropped, recovering it from the changelog",
              file=sys.stderr)
    created = ensure_topics(config.bootstrap, config.partitions, specs(config.state_version))
    if created:
        print(f"dlr worker: created topics {', '.join(created)}", file=sys.stderr)
    app = create_app(config)
    logging.getLogger("faust").setLevel(logging.WARNING)
    logs.keep_payloads_out()  # DLR_LOG_LEVEL=debug must not print receipts or phone numbers either
    worker = faust.Worker(app, loglevel=log_level, quiet=True, redirect_stdouts=False, logging_config=log_config)
    # Faust's terminal spinner sets the root logger to DEBUG (faust/worker.py,
    # _setup_spinner_handler): every aiokafka debug call then builds a log
    # record. Off (a Touch in the fence).
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        if not exit_.code:
            (data_dir / RUNNING_MARKER).unlink(missing_ok=True)
        raise
    return 0
