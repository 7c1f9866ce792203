"""The shared wire helpers' fast paths give exactly what the standard library
they stand in for gives: same value, or same exception and message."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.core.model import ReceiptError
from streams.core.providers import _wire
from tests.budget import examples


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as exc:  # compared, not handled: any difference is the finding
        return type(exc).__name__, str(exc)


# Characters that make percent-escapes, plus-spaces, JSON and separators, so that
# the generated texts hit the fast paths and every way out of them.
QUERY_CHARS = st.sampled_from([*"%%%++aAfFgG09 =&?-:é\x7f", "%3A", "%3a", "%C3%A9", "%80", "%zz", "%4"])
JSON_CHARS = st.sampled_from([*'{}[]",:01.eE- \t\n\ufeffa\\', "true", "null", '"k"', '{"a":1}', "\\ud800"])


@settings(max_examples=examples(1000))
@given(st.lists(QUERY_CHARS, max_size=20).map("".join))
@example("2026-03-10+09%3A00%3A03")
@example("caf%C3%A9+%E9")
def test_unquote_plus_is_the_standard_one(text: str) -> None:
    assert _wire._unquote_plus(text) == unquote_plus(text, errors="replace")


@settings(max_examples=examples(1000))
@given(st.lists(QUERY_CHARS, max_size=30).map("".join))
@example("a=1&b=%3A&c+d=e+f")
@example("a=1&a=2")
@example("a=1&b")
def test_query_is_parse_qsl(body: str) -> None:
    def standard() -> dict[str, str]:
        rest = body.split("?", 1)[1] if "?" in body else body
        try:
            return dict(parse_qsl(rest, keep_blank_values=True, strict_parsing=True))
        except ValueError as exc:
            raise ReceiptError(f"invalid query string: {_wire.clip(str(exc))}") from None

    assert outcome(lambda: _wire.query(body)) == outcome(standard)


@settings(max_examples=examples(1000))
@given(st.lists(JSON_CHARS, max_size=20).map("".join))
@example('{"a":1}')
@example('{"a":1} ')
@example('{"a":1}{}')
@example('\ufeff{"a":1}')
@example("[" * 100_000)
def test_loads_is_json_loads(body: str) -> None:
    assert outcome(lambda: _wire._loads(body)) == outcome(lambda: json.loads(body))


@settings(max_examples=examples(1000))
@given(st.sampled_from(["%y%m%d%H%M", "%y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S"]),
       st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
       st.integers(0, 61))
def test_sliced_layouts_read_as_strptime(fmt: str, year: int, month: int, day: int, hour: int, minute: int,
                                         second: int) -> None:
    numbers = {"%Y": f"{year:04d}", "%y": f"{year % 100:02d}", "%m": f"{month:02d}", "%d": f"{day:02d}",
               "%H": f"{hour:02d}", "%M": f"{minute:02d}", "%S": f"{second:02d}"}
    value = fmt
    for directive, digits in numbers.items():
        value = value.replace(directive, digits)
    try:
        expected: dt.datetime | None = dt.datetime.strptime(value, fmt)
    except ValueError:
        expected = None
    assert _wire._sliced(value, fmt) == expected
