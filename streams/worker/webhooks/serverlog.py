"""aiohttp's own refusals of broken HTTP, logged the way the webhooks log theirs.

A request aiohttp cannot parse (a chunk size that is not hex, a header line
too long, a bad request line) never reaches a handler: aiohttp answers 400
and logs "Error handling request" at ERROR with a traceback, whose exception
message quotes the offending bytes of the request, and a request's bytes can
carry phone numbers. Anyone who can reach the port could fill the worker's log
with tracebacks that way. `install` puts a filter on aiohttp's server logger
that turns those records into one INFO line naming the status, the error's
type and the remote address, like a webhook refusal; every other record
(a real 500 included) is left as it is."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

LOGGER = "aiohttp.server"  # aiohttp.log.server_logger, what RequestHandler logs to by default


class ClientErrorsOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= exc.code < 500:
            return True
        if record.levelno < logging.INFO:  # aiohttp's own debug line for non-HTTP traffic: as it is
            return True
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "unknown"
        record.msg, record.args = "bad HTTP request refused %d: %s (from %s)", (exc.code, type(exc).__name__, remote)
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def install() -> None:
    """Once per process, however many apps register the webhooks."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, ClientErrorsOneLine) for f in logger.filters):
        logger.addFilter(ClientErrorsOneLine())
