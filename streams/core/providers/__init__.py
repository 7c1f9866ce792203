"""Provider normalizers: raw receipt bytes in, one canonical `Receipt` out.

Every public module in this package is a provider. It declares `NAME` and a
`parse(payload: bytes, options: Options) -> Receipt` that raises `ReceiptError`
(with the reason) for anything it cannot read or map. Modules starting with an
underscore are shared helpers. Adding a provider is adding one module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType

from streams.core.model import Receipt, ReceiptError
from streams.core.providers._wire import Options

__all__ = ["PROVIDERS", "Options", "names", "normalize", "parser"]


def _discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.NAME] = module
    return dict(sorted(found.items()))


PROVIDERS: dict[str, ModuleType] = _discover()


def names() -> list[str]:
    return list(PROVIDERS)


def parser(provider: str) -> Callable[[bytes, Options], Receipt]:
    try:
        return PROVIDERS[provider].parse  # type: ignore[no-any-return]
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
