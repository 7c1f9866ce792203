"""Per-deployment mapping overrides (`DLR_MAPPINGS`): status words and error
codes a provider's own tables do not know, or that one deployment reads
otherwise, added without a release.

A `Mappings` is plain data, consulted by the parsers (through
`providers._wire.status` and `providers._wire.error`) before the provider's
own tables, so the same file gives the same receipts offline
(`dlr normalize --mappings`), in the worker and in a replay.

The file is TOML (stdlib `tomllib`: no dependency), one table per provider
and kind (docs/operators.md):

    [smpp.statuses]
    DND_REJECTED = { status = "REJECTED", final = true }

    [gatewayapi.errors]
    "0x0401" = { category = "BARRED", retryable = false }  # retryable optional

`load` is pure (text in, `Mappings` or a `MappingError` out) and strict: a
typo in a file every worker reads at start must stop the start with one line
naming the entry, not map receipts to a guess. Reading the file is the
caller's (streams.settings)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.core.model import ErrorCategory, Status


@dataclass(frozen=True, slots=True)
class Mappings:
    """Per provider: `statuses` maps a status word, compared case-folded, to
    (canonical status, final); `errors` maps an error code, as the receipt
    writes it, to (category, retryable), a None retryable meaning the
    category's default."""

    statuses: Mapping[str, Mapping[str, tuple[Status, bool]]] = field(default_factory=dict)
    errors: Mapping[str, Mapping[str, tuple[ErrorCategory, bool | None]]] = field(default_factory=dict)

    def counts(self) -> tuple[int, int]:
        """(status words, error codes) over every provider: for a start-up line."""
        return (sum(len(t) for t in self.statuses.values()), sum(len(t) for t in self.errors.values()))


class MappingError(ValueError):
    """A mapping file that cannot be used: one line, naming the file and the entry."""


TABLES = ("statuses", "errors")
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _name(*parts: str) -> str:
    """An entry's dotted TOML name, a part quoted where TOML would quote it."""
    return ".".join(p if _BARE.fullmatch(p) else json.dumps(p, ensure_ascii=False) for p in parts)


def _shown(value: Any) -> str:
    """A value as the message quotes it: one line, short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def load(text: str, source: str, providers: Collection[str] | None = None) -> Mappings:
    """The overrides a mapping file's text declares. `source` starts every
    error ("DLR_MAPPINGS /etc/dlr/map.toml"); `providers` are the known names
    (default: every provider)."""
    if providers is None:
        from streams.core.providers import names  # here: the providers import this module

        providers = names()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not TOML: {' '.join(str(exc).split())}") from None
    statuses: dict[str, dict[str, tuple[Status, bool]]] = {}
    errors: dict[str, dict[str, tuple[ErrorCategory, bool | None]]] = {}
    for provider, tables in document.items():
        if provider not in providers:
            raise MappingError(f"{source}: {_name(provider)}: unknown provider (known: {', '.join(providers)})")
        if not isinstance(tables, dict):
            raise MappingError(f"{source}: {_name(provider)}: expected a table of statuses and errors, "
                               f"got {_shown(tables)}")
        for table, entries in tables.items():
            where = (provider, table)
            if table not in TABLES:
                raise MappingError(f"{source}: {_name(*where)}: unknown table (expected statuses or errors)")
            if not isinstance(entries, dict):
                raise MappingError(f"{source}: {_name(*where)}: expected a table of entries, got {_shown(entries)}")
            if table == "statuses":
                statuses[provider] = _statuses(source, where, entries)
            else:
                errors[provider] = _errors(source, where, entries)
    return Mappings({p: t for p, t in statuses.items() if t}, {p: t for p, t in errors.items() if t})


def _fields(source: str, where: tuple[str, ...], entry: Any, required: tuple[str, ...],
            optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An entry's inline table, with exactly the fields it may have."""
    if not isinstance(entry, dict):
        wanted = ", ".join(f"{f} = ..." for f in required)
        raise MappingError(f"{source}: {_name(*where)}: expected {{ {wanted} }}, got {_shown(entry)}")
    for name in entry:
        if name not in required and name not in optional:
            allowed = ", ".join((*required, *optional))
            raise MappingError(f"{source}: {_name(*where)}: unknown field {_name(name)} (allowed: {allowed})")
    for name in required:
        if name not in entry:
            raise MappingError(f"{source}: {_name(*where)}: missing field {name}")
    return entry


def _symbol(source: str, where: tuple[str, ...], what: str, value: Any, kind: type[Status] | type[ErrorCategory]
            ) -> Any:
    if not isinstance(value, str) or value not in kind.__members__:
        raise MappingError(f"{source}: {_name(*where)}: {what} {_shown(value)} is not one of "
                           f"{', '.join(kind.__members__)}")
    return kind[value]


def _flag(source: str, where: tuple[str, ...], what: str, value: Any) -> bool:
    if type(value) is not bool:
        raise MappingError(f"{source}: {_name(*where)}: {what} {_shown(value)} is not true or false")
    return value


def _key(source: str, where: tuple[str, ...], raw: str, kind: str) -> None:
    if not raw.strip():
        raise MappingError(f"{source}: {_name(*where)}: an empty {kind}")


def _statuses(source: str, where: tuple[str, str], entries: dict[str, Any]) -> dict[str, tuple[Status, bool]]:
    out: dict[str, tuple[Status, bool]] = {}
    spelled: dict[str, str] = {}
    for word, entry in entries.items():
        at = (*where, word)
        _key(source, at, word, "status word")
        fields = _fields(source, at, entry, ("status", "final"))
        key = word.strip().casefold()  # parsers look a word up case-folded
        if key in spelled:
            raise MappingError(f"{source}: {_name(*at)}: the same word as {_name(spelled[key])} "
                               "(status words are compared ignoring case)")
        spelled[key] = word
        out[key] = (_symbol(source, at, "status", fields["status"], Status),
                    _flag(source, at, "final", fields["final"]))
    return out


def _errors(source: str, where: tuple[str, str], entries: dict[str, Any]
            ) -> dict[str, tuple[ErrorCategory, bool | None]]:
    out: dict[str, tuple[ErrorCategory, bool | None]] = {}
    spelled: dict[str, str] = {}
    for code, entry in entries.items():
        at = (*where, code)
        _key(source, at, code, "error code")
        fields = _fields(source, at, entry, ("category",), ("retryable",))
        key = code.strip()  # parsers compare codes as written, stripped
        if key in spelled:
            raise MappingError(f"{source}: {_name(*at)}: the same code as {_name(spelled[key])}")
        spelled[key] = code
        retryable = fields.get("retryable")
        out[key] = (_symbol(source, at, "category", fields["category"], ErrorCategory),
                    None if retryable is None else _flag(source, at, "retryable", retryable))
    return out
