"""The canonical model: the contract billing and analytics code against.

Plain data only. Times are integers of microseconds since the Unix epoch, UTC,
so that comparing and encoding them costs nothing on the hot path; `iso()` and
`parse_iso()` convert at the edges.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    UNKNOWN = "UNKNOWN"
    EXPIRED = "EXPIRED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    UNDELIVERED = "UNDELIVERED"
    DELIVERED = "DELIVERED"


# Precedence: the higher rank wins in the fold. A late DELIVERED beats EXPIRED
# on purpose (a late delivery is still a delivery).
RANK: dict[Status, int] = {
    Status.PENDING: 0,
    Status.SCHEDULED: 10,
    Status.QUEUED: 20,
    Status.SENT: 30,
    Status.ACCEPTED: 40,
    Status.UNKNOWN: 50,
    Status.EXPIRED: 60,
    Status.SKIPPED: 65,
    Status.CANCELLED: 70,
    Status.REJECTED: 80,
    Status.UNDELIVERED: 90,
    Status.DELIVERED: 100,
}

# Ranked at or above this, a status is final at every provider; below it only
# the provider's own word (e.g. GatewayAPI's final ACCEPTED) makes it final.
FINAL_RANK = 50


def is_final_everywhere(status: Status) -> bool:
    return RANK[status] >= FINAL_RANK


class ErrorCategory(StrEnum):
    INVALID_NUMBER = "INVALID_NUMBER"
    UNREACHABLE = "UNREACHABLE"
    BARRED = "BARRED"
    BLACKLISTED = "BLACKLISTED"
    CONTENT_REJECTED = "CONTENT_REJECTED"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    ROUTING = "ROUTING"
    SENDER_REJECTED = "SENDER_REJECTED"
    RECIPIENT_FUNDS = "RECIPIENT_FUNDS"
    ACCOUNT_FUNDS = "ACCOUNT_FUNDS"
    NETWORK = "NETWORK"
    THROTTLED = "THROTTLED"
    EXPIRED = "EXPIRED"
    TEST = "TEST"
    GENERIC = "GENERIC"


# Default `retryable` per category: true when sending the same message again
# later can succeed. Providers override it per code where their documentation
# says otherwise (seed 000's "Try again later" column, Messente's err 999).
RETRYABLE: dict[ErrorCategory, bool] = {
    ErrorCategory.INVALID_NUMBER: False,
    ErrorCategory.UNREACHABLE: True,
    ErrorCategory.BARRED: False,
    ErrorCategory.BLACKLISTED: False,
    ErrorCategory.CONTENT_REJECTED: False,
    ErrorCategory.INVALID_MESSAGE: False,
    ErrorCategory.ROUTING: False,
    ErrorCategory.SENDER_REJECTED: False,
    ErrorCategory.RECIPIENT_FUNDS: True,
    ErrorCategory.ACCOUNT_FUNDS: True,
    ErrorCategory.NETWORK: True,
    ErrorCategory.THROTTLED: True,
    ErrorCategory.EXPIRED: True,
    ErrorCategory.TEST: False,
    ErrorCategory.GENERIC: False,
}


class ChargeStatus(StrEnum):
    NOCHARGE = "NOCHARGE"
    AUTHORIZED = "AUTHORIZED"
    CANCELLED = "CANCELLED"
    CAPTURED = "CAPTURED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    REFUND_FAIL = "REFUND_FAIL"


# GatewayAPI's charge lifecycle (seed 001): NOCHARGE -> AUTHORIZED -> CAPTURED |
# CANCELLED | FAILED, CAPTURED -> REFUNDED. Ranked by how far along the
# lifecycle a status proves the charge went, so the fold is order-independent.
# CAPTURED outranks CANCELLED and FAILED: money that was captured was captured,
# whatever an earlier-step receipt said. REFUND_FAIL is only a notification:
# it proves CAPTURED and leaves the state there.
CHARGE_RANK: dict[ChargeStatus, int] = {
    ChargeStatus.NOCHARGE: 0,
    ChargeStatus.AUTHORIZED: 10,
    ChargeStatus.FAILED: 20,
    ChargeStatus.CANCELLED: 25,
    ChargeStatus.CAPTURED: 30,
    ChargeStatus.REFUNDED: 40,
}


class ReceiptError(ValueError):
    """A receipt that cannot be parsed or mapped. The message is the reason."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """One canonical receipt event: what a provider said about one message."""

    provider: str
    message_id: str
    status: Status
    final: bool
    provider_status: str
    event_time: int  # microseconds since epoch, UTC
    error_code: str | None = None
    error_category: ErrorCategory | None = None
    retryable: bool | None = None
    charge_status: ChargeStatus | None = None
    reference: str | None = None
    price: str | None = None  # decimal text as the provider sent it
    raw_time: str | None = None  # the provider's own time value, untouched
    # What the parser tolerated, one "<field>: <what and its raw value>" each:
    # an optional field that was missing or unreadable (and left null), or the
    # time field the event time fell back to. Empty for a receipt read whole.
    warnings: tuple[str, ...] = ()

    @property
    def message_key(self) -> str:
        return f"{self.provider}:{self.message_id}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)


def micros(when: dt.datetime) -> int:
    """A naive time is taken as UTC (subtracting a naive epoch: no replace())."""
    delta = when - (_NAIVE_EPOCH if when.tzinfo is None else _EPOCH)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso(us: int) -> str:
    """ISO-8601 in UTC with a Z; milliseconds only when there are any."""
    when = _EPOCH + dt.timedelta(microseconds=us)
    if us % 1_000_000:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if us % 1000 == 0 else (
            when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        )
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> int:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return micros(when)


@dataclass(frozen=True, slots=True)
class MessageState:
    """What is known of one message: a pure function of the set of its receipts."""

    message_key: str
    provider: str
    message_id: str
    status: Status
    final: bool
    provider_status: str
    event_time: int  # of the receipt that set `status`
    error_code: str | None = None
    error_category: ErrorCategory | None = None
    retryable: bool | None = None
    charge_status: ChargeStatus | None = None
    charge_time: int | None = None  # of the receipt that set `charge_status`
    refund_failed: bool = False
    reference: str | None = None
    price: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    id: str
    message_key: str
    provider: str
    message_id: str
    previous: Status | None
    status: Status
    final: bool
    provider_status: str
    event_time: int
    error_code: str | None = None
    error_category: ErrorCategory | None = None
    retryable: bool | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class ChargeChange:
    """A move of the charge state, or (notification=True) a REFUND_FAIL, after
    which the charge state stays CAPTURED."""

    id: str
    message_key: str
    provider: str
    message_id: str
    previous: ChargeStatus | None
    charge_status: ChargeStatus
    event_time: int
    notification: bool = False
    reference: str | None = None
    price: str | None = None
