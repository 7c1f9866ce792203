"""The dates of SMPP receipt text, in every form SMSCs write them.

SMPP 3.4 Appendix B gives `YYMMDDhhmm`; SMSCs also send seconds
(`YYMMDDhhmmss`), four-digit years (`YYYYMMDDhhmmss`), and the SMPP
absolute-time form of section 7.1.1 (`YYMMDDhhmmsstnnp`: tenths of a second,
the offset from UTC in quarter hours, and `+` or `-`; `R`, a relative time,
is no date), and now and then ISO-8601. Only the absolute form and an ISO
time with an offset carry their zone; the others are read in the provider's
configured zone.

Twelve digits read two ways, `YYMMDDhhmmss` and `YYYYMMDDhhmm`; when both are
valid dates (`201201121530`: 2020-12-01 12:15:30 or 2012-01-12 15:30), the
reading closest to a reference (the receipt's other date, else the received
time) is taken, and the receipt says so.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from streams.core.model import ReceiptError
from streams.core.providers import _wire

_ABSOLUTE = re.compile(r"([0-9]{12})([0-9])([0-9]{2})([-+])")
_DIGITS = re.compile(r"[0-9]{10}|[0-9]{12}|[0-9]{14}")  # never unicode digits
_QUARTER_HOUR_US = 15 * 60 * 1_000_000


class Reading(NamedTuple):
    when: int  # micros, UTC
    ambiguous: tuple[int, int] | None  # both readings of an ambiguous 12-digit date


def read(value: str, zone: dt.tzinfo) -> Reading:
    """A receipt date, or ReceiptError if it is none of the forms above."""
    match = _ABSOLUTE.fullmatch(value)
    if match is not None:
        digits, tenths, quarters, sign = match.groups()
        local = _local(digits, "%y%m%d%H%M%S", _wire.UTC)
        if local is None or int(quarters) > 48:  # the spec's range: 00-48
            raise ReceiptError(f"invalid SMPP absolute time {value!r}")
        offset = int(quarters) * _QUARTER_HOUR_US
        return Reading(local + int(tenths) * 100_000 + (-offset if sign == "+" else offset), None)
    if not _DIGITS.fullmatch(value):
        if "-" in value[:8]:  # ISO-8601 ("2024-03-21 12:00:00"), as some simulators write it
            return Reading(_wire.iso_time(value, zone), None)
        raise ReceiptError(f"invalid date {value!r}: expected YYMMDDhhmm[ss], YYYYMMDDhhmmss or YYMMDDhhmmsstnnp")
    found: int | None
    if len(value) == 10:
        found = _local(value, "%y%m%d%H%M", zone)
    elif len(value) == 14:
        found = _local(value, "%Y%m%d%H%M%S", zone)
    else:
        short, long = _local(value, "%y%m%d%H%M%S", zone), _four_digit_year(value, zone)
        if short is not None and long is not None:
            return Reading(short, (short, long))
        found = short if short is not None else long
    if found is None:
        raise ReceiptError(f"invalid date {value!r}")
    return Reading(found, None)


def closest(reading: Reading, reference: int | None) -> int:
    """The reading of an ambiguous date nearest `reference`; the spec's
    YYMMDDhhmmss when there is no reference."""
    if reading.ambiguous is None or reference is None:
        return reading.when
    return min(reading.ambiguous, key=lambda when: abs(when - reference))


def _four_digit_year(value: str, zone: dt.tzinfo) -> int | None:
    """YYYYMMDDhhmm, for years 2000-2099 only: SMSCs that write four-digit
    years write this century's."""
    return _local(value, "%Y%m%d%H%M", zone) if value.startswith("20") else None


def _local(value: str, fmt: str, zone: dt.tzinfo) -> int | None:
    return _wire.fixed_time(value, fmt, zone)
