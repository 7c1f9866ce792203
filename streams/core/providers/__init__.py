"""Providers: raw receipt bytes in, canonical `Receipt`s out (one per report:
most providers post one, Infobip a batch), and all else that is particular
to one provider.

A provider is one folder here, `<name>/`, whose `__init__.py` declares
`PROVIDER = Provider(...)` (see `_provider.py`): its parser (`parse.py`, the
tables as data, each with its public source), its webhook route and signature
check with the settings they read (`webhook.py`), its sample receipts for
`dlr up` (`samples.txt`) and its generator for the benches and tests
(`generate.py`). The routes, the signed providers, the kept headers, the
provider settings and `streams.core.generate.FORMATS` are derived from these
records, so adding a provider is adding one folder (and its test).

A parser raises `ReceiptError` (with the reason) for anything it cannot read
or map. Names starting with an underscore are shared helpers: `_wire` (text,
JSON, queries, times), `_http` (the request a webhook check reads, and the
signing primitives), `_provider` (the record).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from streams.core.model import Receipt, ReceiptError
from streams.core.providers._provider import Provider, ProviderSetting, Webhook
from streams.core.providers._wire import Options

__all__ = [
    "PROVIDERS",
    "Options",
    "Provider",
    "ProviderSetting",
    "Webhook",
    "discover",
    "message_key",
    "names",
    "normalize",
    "normalize_all",
    "parser",
]


def discover(package: str) -> dict[str, Provider]:
    """The `PROVIDER` record of every subpackage of `package` whose name does
    not start with an underscore, by name, sorted."""
    module = importlib.import_module(package)
    found: dict[str, Provider] = {}
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.startswith("_"):
            continue
        if not info.ispkg:
            raise ImportError(f"{package}.{info.name}: a provider is a folder with an __init__.py, not a module")
        record = getattr(importlib.import_module(f"{package}.{info.name}"), "PROVIDER", None)
        if not isinstance(record, Provider):
            raise ImportError(f"{package}.{info.name} declares no PROVIDER = Provider(...)")
        if record.name != info.name:
            raise ImportError(f"{package}.{info.name} declares provider {record.name!r}: the name is the folder's")
        found[record.name] = record
    return dict(sorted(found.items()))


PROVIDERS: dict[str, Provider] = discover(__name__)


def names() -> list[str]:
    return list(PROVIDERS)


def parser(provider: str) -> Callable[[bytes, Options], Receipt]:
    try:
        return PROVIDERS[provider].parse
    except KeyError:
        raise ReceiptError(f"unknown provider {provider!r}") from None


def normalize(provider: str, payload: bytes, options: Options | None = None) -> Receipt:
    """Parse one raw receipt. Raises ReceiptError and nothing else."""
    parse = parser(provider)
    try:
        return parse(payload, options or Options())
    except ReceiptError:
        raise
    except Exception as exc:  # a parser bug must still come out as a reason
        raise ReceiptError(f"{provider} parser failed: {type(exc).__name__}: {exc}") from exc


def normalize_all(provider: str, payload: bytes, options: Options | None = None) -> list[Receipt | ReceiptError]:
    """Every report of one raw receipt: a receipt or the error of that report
    alone, so a bad report never costs its good siblings. One error when the
    payload as a whole cannot be read. Raises nothing."""
    try:
        record = PROVIDERS[provider]
    except KeyError:
        return [ReceiptError(f"unknown provider {provider!r}")]
    options = options or Options()
    if record.parse_all is None:
        try:
            return [normalize(provider, payload, options)]
        except ReceiptError as exc:
            return [exc]
    try:
        return record.parse_all(payload, options)
    except ReceiptError as exc:
        return [exc]
    except Exception as exc:  # a parser bug must still come out as a reason
        return [ReceiptError(f"{provider} parser failed: {type(exc).__name__}: {exc}")]


def message_key(provider: str, payload: bytes, options: Options | None = None) -> str | None:
    """The message key a raw record is keyed by, so that the receipts of one
    message share a raw partition and keep their order: its (first) report's,
    or None when no report reads (the worker dead-letters it with the reason)."""
    for result in normalize_all(provider, payload, options):
        if not isinstance(result, ReceiptError):
            return result.message_key
    return None
