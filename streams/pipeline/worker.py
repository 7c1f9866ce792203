"""`dlr worker`: one Faust worker process."""

from __future__ import annotations

import logging
import sys

from streams.admin import ensure_topics
from streams.pipeline.app import WorkerConfig, create_app
from streams.topics import specs


def run(config: WorkerConfig, log_level: str = "info") -> int:
    import faust

    created = ensure_topics(config.bootstrap, config.partitions, specs(config.state_version))
    if created:
        print(f"dlr worker: created topics {', '.join(created)}", file=sys.stderr)
    app = create_app(config)
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker = faust.Worker(app, loglevel=log_level, quiet=True, redirect_stdouts=False)
    # Faust's terminal spinner sets the root logger to DEBUG (faust/worker.py,
    # _setup_spinner_handler): every aiokafka debug call then builds a log
    # record, about 6% of the worker's time in the profile. Off.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
