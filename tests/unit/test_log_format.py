"""DLR_LOG_FORMAT=json: one parseable JSON object per line, with time, level,
logger, message and the worker's id, and nothing the text line does not hold."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from streams import settings
from streams.worker import logs


def test_setting_is_declared_with_text_default() -> None:
    assert settings.SETTINGS["log_format"].default == "text"
    assert settings.SETTINGS["log_format"].env == "DLR_LOG_FORMAT"


def test_text_keeps_fausts_handlers_and_unknown_is_refused() -> None:
    assert logs.logging_config("text") is None
    with pytest.raises(ValueError, match="DLR_LOG_FORMAT"):
        logs.logging_config("yaml")


def test_json_line() -> None:
    record = logging.LogRecord("streams.worker", logging.WARNING, __file__, 1, "lag %d on %s", (3, "p0"), None)
    line = logs.JsonFormatter(worker="host:42").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "worker"}
    assert entry["level"] == "warning" and entry["logger"] == "streams.worker"
    assert entry["message"] == "lag 3 on p0" and entry["worker"] == "host:42"
    assert entry["time"].endswith("+00:00")


def test_json_holds_only_the_message_never_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "receipt refused", None, None)
    record.msisdn = "+4512345678"
    record.secret = "s3cr3t"
    line = logs.JsonFormatter(worker="w").format(record)
    assert "4512345678" not in line and "s3cr3t" not in line


def test_json_traceback_stays_on_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    entry = json.loads(logs.JsonFormatter(worker="w").format(record))
    assert "RuntimeError: boom" in entry["exc"]


def test_dict_config_writes_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logs.logging_config("json", logging.INFO) or {})
        logging.getLogger("faust.worker").info("ready")
        logging.getLogger("faust.worker").debug("not shown")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "ready" and entry["logger"] == "faust.worker" and ":" in entry["worker"]


def test_debug_logging_never_prints_a_payload(caplog: pytest.LogCaptureFixture) -> None:
    """aiokafka's producer logs every record's key and value at debug level
    (issue 16: phone numbers in the log at DLR_LOG_LEVEL=debug)."""
    import inspect

    from aiokafka.producer import producer

    assert "Sending (key=%s value=%s) to %s" in inspect.getsource(producer)  # what the guard is for
    logger = logging.getLogger(logs.PAYLOAD_LOGGERS[0])
    logger.setLevel(logging.NOTSET)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        logs.keep_payloads_out()
        with caplog.at_level(logging.DEBUG):
            logger.debug("Sending (key=%s value=%s) to %s", b"k", b"msisdn=4512345678", "dlr.raw.smpp")
            logging.getLogger("aiokafka.conn").debug("a connection line")
        assert "4512345678" not in caplog.text
        assert "a connection line" in caplog.text  # other debug lines stay
    finally:
        logger.setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.WARNING)
