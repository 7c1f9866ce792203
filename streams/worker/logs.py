"""The worker's log format (DLR_LOG_FORMAT): `text`, Faust's own, or `json`:
one JSON object per line with time, level, logger, message and the worker's
id (hostname:pid), for the log shippers operators run.

A JSON line carries what the text line carries and nothing more: the
formatted message (and a traceback when there is one), never the record's
extra attributes, so no field holds what a text line would not."""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")

# Library loggers whose debug lines carry a record's bytes: aiokafka's producer
# logs "Sending (key=%s value=%s) to %s" for every webhook receipt it writes,
# phone numbers included. They never log below INFO, whatever DLR_LOG_LEVEL says.
PAYLOAD_LOGGERS = ("aiokafka.producer.producer",)


def keep_payloads_out() -> None:
    """No debug line of a library logger that prints payloads (PAYLOAD_LOGGERS)."""
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JsonFormatter(logging.Formatter):
    def __init__(self, worker: str | None = None) -> None:
        super().__init__()
        self.worker = worker or worker_id()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "worker": self.worker,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(log_format: str, level: int = logging.INFO) -> dict[str, Any] | None:
    """What faust.Worker's `logging_config` takes (mode's dictConfig): None
    keeps Faust's text handlers; `json` replaces them with one stdout handler
    that writes JsonFormatter lines."""
    if log_format not in FORMATS:
        raise ValueError(f"DLR_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    if log_format == "text":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stdout"}},
        "root": {"level": level, "handlers": ["default"]},
    }
