"""What every provider parser needs to read its wire format: text, JSON,
URL query strings, and provider times. Each helper raises ReceiptError."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus, unquote_to_bytes

from streams.core.mappings import Mappings
from streams.core.model import RETRYABLE, ErrorCategory, ReceiptError, Status, micros

Format = Literal["json", "query", "smpp"]

# Providers send local times without a zone (SMPP dates, Messente's timestamp,
# Vonage scts). They are read as UTC unless a provider's zone is configured.
UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class Options:
    """Parse settings. `zones` maps provider name to the zone its zone-less
    times are in (missing means UTC). `received_at` (micros, UTC) is when the
    receipt reached us: the event time of formats that carry none (Messente's
    legacy GET), and the last fallback of those that do. `mappings` are the
    deployment's overrides of the providers' tables (DLR_MAPPINGS)."""

    zones: dict[str, dt.tzinfo] = field(default_factory=dict)
    received_at: int | None = None
    mappings: Mappings | None = None

    def zone(self, provider: str) -> dt.tzinfo:
        return self.zones.get(provider, UTC)


def text(payload: bytes) -> str:
    try:
        decoded = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReceiptError(f"not UTF-8 at byte {exc.start}") from None
    decoded = decoded.strip().lstrip("\ufeff")
    if not decoded:
        raise ReceiptError("empty receipt")
    return decoded


def detect(body: str) -> Format:
    """Which of the three line formats a receipt is in."""
    if body[0] in "{[":
        return "json"
    if body.startswith("id:") or " stat:" in body:
        return "smpp"
    if "=" in body:
        return "query"
    raise ReceiptError("not JSON, not a URL query, not SMPP receipt text")


# json.loads's own decoder: it builds one with these defaults when given no options.
_DECODER = json.JSONDecoder()


def _loads(body: str) -> Any:
    """json.loads(body). A body that is one JSON document from its first
    character to its last (every receipt: text() strips it) is read by
    raw_decode alone, without loads's BOM check and its two whitespace scans
    around the document, a third of its cost. Anything else (an error,
    whitespace, extra data) takes loads's own path, for its exact result
    and message."""
    try:
        value, end = _DECODER.raw_decode(body)
    except (ValueError, RecursionError):
        return json.loads(body)
    return value if end == len(body) else json.loads(body)


def json_object(body: str) -> dict[str, Any]:
    try:
        value = _loads(body)
    except (ValueError, RecursionError) as exc:
        raise ReceiptError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ReceiptError(f"JSON receipt is a {type(value).__name__}, not an object")
    if "\\u" in body:  # only escapes can smuggle in a lone surrogate, which no encoder can write
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ReceiptError("JSON holds a lone surrogate escape (not valid Unicode text)") from None
    return value


def query(body: str) -> dict[str, str]:
    """A GET callback's query string (a leading '?' or full URL is tolerated)."""
    if "?" in body:
        body = body.split("?", 1)[1]
    # parse_qsl's result at a fraction of its cost: split, and unquote only the
    # parts that need it. Anything unusual (a part without "=", a repeated
    # name) takes parse_qsl's path, for its exact behaviour and message.
    fast: dict[str, str] = {}
    for piece in body.split("&"):
        name, sep, value = piece.partition("=")
        if not sep:
            break
        if "%" in piece or "+" in piece:  # in a value mostly (a time's "+" and "%3A")
            if "%" in name or "+" in name:
                name = _unquote_plus(name)
            value = _unquote_plus(value)
        fast[name] = value
    else:
        if len(fast) == body.count("&") + 1:
            return fast
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise ReceiptError(f"invalid query string: {clip(str(exc))}") from None
    return dict(pairs)


# Every escape whose byte is ASCII, in either case of hex digit ("%3a" and "%3A").
_ASCII_ESCAPES: dict[str, str] = {
    f"{high}{low}": chr(int(f"{high}{low}", 16)) for high in "01234567" for low in "0123456789ABCDEFabcdef"
}


def _unquote_plus(text: str) -> str:
    """unquote_plus(text, errors="replace"). For an ASCII text (query strings
    are) that is one unquote_to_bytes and one decode: the same steps without
    its regex split into ASCII and non-ASCII runs, at half the cost. When
    every escape is of an ASCII byte (a time's "%3A"), the bytes are that text,
    so the escapes are replaced in the str without the round trip through bytes."""
    if not text.isascii():
        return unquote_plus(text, errors="replace")
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    parts = text.split("%")
    for i in range(1, len(parts)):
        char = _ASCII_ESCAPES.get(parts[i][:2])
        if char is None:  # a byte >= 0x80 (UTF-8, or replaced) or no escape at all
            return unquote_to_bytes(text).decode("utf-8", "replace")
        parts[i] = char + parts[i][2:]
    return "".join(parts)


def field_text(fields: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A field as stripped text; a missing or blank required field is an error.
    Numbers are accepted (providers send ids and codes as either)."""
    value = fields.get(name)
    if type(value) is str:  # the common case, first
        stripped = value.strip()
        if stripped:
            return stripped
        # Blank: "desc=" and the like arrive on every receipt of some providers.
        if required:
            raise ReceiptError(f"missing field {name!r}")
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ReceiptError(f"missing field {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ReceiptError(f"field {name!r} is a {type(value).__name__}, expected text")
    if isinstance(value, float):
        value = repr(value) if not value.is_integer() else str(int(value))
    return str(value).strip()


def unix_seconds(value: str) -> int:
    try:
        seconds = float(value)
    except ValueError:
        raise ReceiptError(f"invalid unix time {value!r}") from None
    if not 0 <= seconds < 32_503_680_000:  # before year 3000
        raise ReceiptError(f"unix time out of range {value!r}")
    return round(seconds * 1_000_000)


# strptime costs a sixth of a receipt's parse; these fixed layouts are read
# with one regular expression each ([0-9]: ASCII digits only, as strptime).
# Groups: Y or y, m, d, H, M and S when there is one.
_TWO = "([0-9]{2})"
# The two-digit groups are read by table: a dict lookup costs less than int().
_TWO_DIGITS: dict[str, int] = {f"{n:02d}": n for n in range(100)}
_LAYOUTS: dict[str, re.Pattern[str]] = {
    "%y%m%d%H%M": re.compile(_TWO * 5),
    "%y%m%d%H%M%S": re.compile(_TWO * 6),
    "%Y-%m-%d %H:%M:%S": re.compile(f"([0-9]{{4}})-{_TWO}-{_TWO} {_TWO}:{_TWO}:{_TWO}"),
    "%Y%m%d%H%M%S": re.compile("([0-9]{4})" + _TWO * 5),
    "%Y%m%d%H%M": re.compile("([0-9]{4})" + _TWO * 4),
}


def _sliced(value: str, fmt: str) -> dt.datetime | None:
    layout = _LAYOUTS.get(fmt)
    match = layout.fullmatch(value) if layout is not None else None
    if match is None:
        return None
    groups = match.groups()
    year = int(groups[0])
    if fmt[1] == "y":  # strptime's pivot: 69-99 are 19xx, 00-68 are 20xx
        year += 1900 if year >= 69 else 2000
    two = _TWO_DIGITS  # indexed in place: unpacking into names costs as much as the lookups
    try:
        return dt.datetime(year, two[groups[1]], two[groups[2]], two[groups[3]], two[groups[4]],
                           two[groups[5]] if len(groups) > 5 else 0)
    except ValueError:
        return None


def fixed_time(value: str, fmt: str, zone: dt.tzinfo) -> int | None:
    """A zone-less time in one of the fixed-width layouts above, read in
    `zone`, or None. Never strptime, whose one-digit fields read some digit
    strings in more than one way."""
    when = _sliced(value, fmt)
    if when is None:
        return None
    return micros(when if zone is UTC else when.replace(tzinfo=zone))


def local_time(value: str, formats: tuple[str, ...], zone: dt.tzinfo) -> int:
    """A zone-less provider time read in `zone`; ISO-8601 with an offset keeps its own."""
    for fmt in formats:
        when = _sliced(value, fmt)
        if when is None:
            try:
                when = dt.datetime.strptime(value, fmt)
            except ValueError:
                continue
        # micros() reads a naive time as UTC, without replace()'s cost.
        return micros(when if zone is UTC else when.replace(tzinfo=zone))
    raise ReceiptError(f"invalid time {value!r}")


def iso_time(value: str, zone: dt.tzinfo) -> int:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ReceiptError(f"invalid ISO-8601 time {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return micros(when)


def clip(text: str, limit: int = 120) -> str:
    """A piece of the input quoted in an error, cut short: a reason is read by
    a person, and a whole payload in it would double a dead letter's size."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} chars)"


# --- the outcome: strict, from the provider's tables and the deployment's overrides ---


def status(options: Options, provider: str, table: Mapping[str, tuple[Status, bool]], word: str
           ) -> tuple[Status, bool]:
    """(status, final) of a provider's status word: the deployment's override
    first, then the provider's table. A word neither knows is a ReceiptError,
    never a guess."""
    mappings = options.mappings
    if mappings is not None:
        overrides = mappings.statuses.get(provider)
        if overrides:
            found = overrides.get(word.casefold())
            if found is not None:
                return found
    found = table.get(word)
    if found is None:
        raise ReceiptError(f"unknown {provider} status {clip(word, 40)!r}")
    return found


def error(options: Options, provider: str, table: Mapping[str, tuple[ErrorCategory, bool | None]],
          code: str | None, warnings: list[str] | None, what: str = "error code"
          ) -> tuple[str | None, ErrorCategory | None, bool | None]:
    """(code, category, retryable) of an error code: the deployment's override
    first, then the provider's table (a None retryable there means the
    category's default). An error code does not decide the outcome, so a code
    neither knows is kept without a category, and noted in `warnings` when the
    provider documents its codes (None: codes are vendor specific, as SMPP's
    err, and an unknown one is the rule). `what` names the field in the note."""
    if code is None:
        return None, None, None
    found: tuple[ErrorCategory, bool | None] | None = None
    mappings = options.mappings
    if mappings is not None:
        overrides = mappings.errors.get(provider)
        if overrides:
            found = overrides.get(code)
    if found is None:
        found = table.get(code)
        if found is None:
            if warnings is not None:
                warnings.append(f"{what}: unknown {quoted(code)}, kept without a category")
            return code, None, None
    category, retryable = found
    return code, category, RETRYABLE[category] if retryable is None else retryable


# --- what does not decide the outcome: tolerated, and named in the receipt's warnings ---


def quoted(raw: object) -> str:
    """A raw value as a warning quotes it: repr, cut short."""
    return clip(repr(raw), 60)


def optional_text(fields: dict[str, Any], name: str, warnings: list[str]) -> str | None:
    """An optional field as stripped text, or None: missing, blank, or of a
    type that is not text (an object, a list, a boolean), which is noted."""
    try:
        return field_text(fields, name, required=False)
    except ReceiptError:
        warnings.append(f"{name}: not text {quoted(fields.get(name))}, ignored")
        return None


# An amount as providers write prices: digits, and a fraction after a point.
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def optional_decimal(fields: dict[str, Any], name: str, warnings: list[str], label: str | None = None) -> str | None:
    """An optional amount (a price) as the provider wrote it, or None: missing,
    not text, or not a plain decimal (a JSON number counts, as its shortest
    text), each noted under `label` (default: the field's name)."""
    label = label or name
    try:
        value = field_text(fields, name, required=False)
    except ReceiptError:
        warnings.append(f"{label}: not text {quoted(fields.get(name))}, ignored")
        return None
    if value is not None and not _DECIMAL.fullmatch(value):
        warnings.append(f"{label}: not a decimal {quoted(value)}, ignored")
        return None
    return value


# A time field: (its name, its raw text or None when absent, its reader).
TimeField = tuple[str, str | None, Callable[[str], int]]


def event_time(primary: TimeField, others: Sequence[TimeField], options: Options, warnings: list[str]
               ) -> tuple[int, str | None]:
    """(event time, the raw text it was read from) in the provider's documented
    order: its status time (`primary`), then each other time field it sends,
    then the received time (no raw text). Passing over the primary is noted
    ("done date: missing; event time from the received time"), and so is an
    unreadable other field. Only when nothing is left, no received time
    included, is it a ReceiptError."""
    name, raw, read = primary
    if raw is not None:
        try:
            return read(raw), raw
        except ReceiptError:
            why = f"unreadable {quoted(raw)}"
    else:
        why = "missing"
    for other, other_raw, other_read in others:
        if other_raw is None:
            continue
        try:
            when = other_read(other_raw)
        except ReceiptError:
            warnings.append(f"{other}: unreadable {quoted(other_raw)}, ignored")
            continue
        warnings.append(f"{name}: {why}; event time from {other}")
        return when, other_raw
    if options.received_at is None:
        raise ReceiptError(f"{name} {why}, and no received time to fall back on")
    warnings.append(f"{name}: {why}; event time from the received time")
    return options.received_at, None
