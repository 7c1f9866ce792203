"""The fold: `fold(state, receipt) -> (state, emitted)`, a pure function.

The state is a function of the *set* of receipts folded into it, so any order
and any duplicates give the same state:
- status: the receipt with the highest rank wins; among equal ranks the
  earliest event_time; among equal times a total order over the remaining
  fields (`_status_key`), so nothing depends on arrival order;
- charge: likewise over receipts that carry a charge status, by CHARGE_RANK;
  REFUND_FAIL proves CAPTURED and sets a flag;
- reference: the smallest non-empty one seen; price: the highest.

What is emitted does depend on order (that is what a stream is), but only a
move up is ever emitted, and each emitted id is derived from the message key
and the state reached, so a replay or a restart re-emits the same ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import cast

from streams.core.model import (
    CHARGE_RANK,
    RANK,
    ChargeChange,
    ChargeStatus,
    ErrorCategory,
    MessageState,
    Receipt,
    Status,
    StatusChange,
)

Emitted = StatusChange | ChargeChange

# Fixed forever: changing it changes every emitted id and defeats consumer dedup.
ID_NAMESPACE = uuid.UUID("6f1c2a7e-5d0b-4c1e-9b8a-3f2d1e0c9b7a")


# SHA-1 already fed the namespace: copying it is cheaper than creating a hash
# object, and it hashes 16 bytes fewer per id.
_NAMESPACE_SHA1 = hashlib.sha1(ID_NAMESPACE.bytes)

# The variant bits overwrite the top two bits of byte 8: as hex, its first
# digit becomes 8, 9, a or b, chosen by the digit's two low bits.
_VARIANT_DIGIT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def _uuid5(name: bytes) -> str:
    """RFC 4122's uuid5(ID_NAMESPACE, name), formatted from the SHA-1 hex
    digest: the version is always the digit 5 at position 12, so no byte
    array is needed to set it."""
    sha1 = _NAMESPACE_SHA1.copy()
    sha1.update(name)
    h = sha1.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


def change_id(message_key: str, kind: str, value: str) -> str:
    """Deterministic id of reaching `value` (a status or charge status) for a
    message. The previous value is left out on purpose: a message reaches each
    status at most once, whatever path a replay takes to it.

    It is RFC 4122's uuid5(ID_NAMESPACE, "key\\x1fkind\\x1fvalue"), computed
    here without the uuid module, which cost 40% of the fold."""
    return _uuid5(f"{message_key}\x1f{kind}\x1f{value}".encode())


# The "\x1fkind\x1fvalue" tail of every id, encoded once per enum member: the
# fold then neither formats it nor reads the enum's `.value` (a slow property).
_STATUS_SUFFIX = {s: f"\x1fstatus\x1f{s.value}".encode() for s in Status}
_CHARGE_SUFFIX = {c: f"\x1fcharge\x1f{c.value}".encode() for c in ChargeStatus}


# Record builders. A frozen dataclass's __init__ stores each field through
# object.__setattr__(self, "name", value), a method lookup and a name lookup
# per field; the slot descriptors store directly, in about half the time, and
# building records is most of the fold. The results are the same objects as
# __init__ builds (same class, same slots, no __post_init__), so equality,
# hashing, immutability and encoding are unchanged; tests/unit/test_fold_fast.py
# holds each builder to its class's __init__, so a field cannot be missed.
_new = object.__new__
_Setter = Callable[[object, object], None]


def _slot_setters(cls: type) -> tuple[_Setter, ...]:
    """Each field's slot `__set__`, in field order."""
    return tuple(cast(_Setter, getattr(cls, f.name).__set__) for f in dataclasses.fields(cls))


(_m_key, _m_provider, _m_id, _m_status, _m_final, _m_provider_status, _m_time, _m_code, _m_category,
 _m_retryable, _m_charge, _m_charge_time, _m_refund_failed, _m_reference, _m_price) = _slot_setters(MessageState)


def _state(message_key: str, provider: str, message_id: str, status: Status, final: bool,
           provider_status: str, event_time: int, error_code: str | None,
           error_category: ErrorCategory | None, retryable: bool | None, charge_status: ChargeStatus | None,
           charge_time: int | None, refund_failed: bool, reference: str | None,
           price: str | None) -> MessageState:
    """MessageState(...) with every field given, positionally."""
    s = _new(MessageState)
    _m_key(s, message_key)
    _m_provider(s, provider)
    _m_id(s, message_id)
    _m_status(s, status)
    _m_final(s, final)
    _m_provider_status(s, provider_status)
    _m_time(s, event_time)
    _m_code(s, error_code)
    _m_category(s, error_category)
    _m_retryable(s, retryable)
    _m_charge(s, charge_status)
    _m_charge_time(s, charge_time)
    _m_refund_failed(s, refund_failed)
    _m_reference(s, reference)
    _m_price(s, price)
    return s


(_s_id, _s_key, _s_provider, _s_message_id, _s_previous, _s_status, _s_final, _s_provider_status, _s_time,
 _s_code, _s_category, _s_retryable, _s_reference) = _slot_setters(StatusChange)


def _status_record(id: str, message_key: str, provider: str, message_id: str, previous: Status | None,
                   status: Status, final: bool, provider_status: str, event_time: int,
                   error_code: str | None, error_category: ErrorCategory | None, retryable: bool | None,
                   reference: str | None) -> StatusChange:
    """StatusChange(...) with every field given, positionally."""
    c = _new(StatusChange)
    _s_id(c, id)
    _s_key(c, message_key)
    _s_provider(c, provider)
    _s_message_id(c, message_id)
    _s_previous(c, previous)
    _s_status(c, status)
    _s_final(c, final)
    _s_provider_status(c, provider_status)
    _s_time(c, event_time)
    _s_code(c, error_code)
    _s_category(c, error_category)
    _s_retryable(c, retryable)
    _s_reference(c, reference)
    return c


def _status_key(rank: int, event_time: int, provider_status: str, error_code: str | None,
                error_category: str | None, retryable: bool | None, final: bool) -> tuple[object, ...]:
    # Max wins. Time negated: the earliest receipt of the winning rank wins.
    return (rank, -event_time, provider_status, error_code or "", error_category or "",
            -1 if retryable is None else int(retryable), final)


def _receipt_status_key(r: Receipt) -> tuple[object, ...]:
    return _status_key(RANK[r.status], r.event_time, r.provider_status, r.error_code,
                       r.error_category, r.retryable, r.final)


def _state_status_key(s: MessageState) -> tuple[object, ...]:
    return _status_key(RANK[s.status], s.event_time, s.provider_status, s.error_code,
                       s.error_category, s.retryable, s.final)


def _charge_of(r: Receipt) -> ChargeStatus | None:
    if r.charge_status is ChargeStatus.REFUND_FAIL:
        return ChargeStatus.CAPTURED
    return r.charge_status


def _charge_key(charge: ChargeStatus, time: int) -> tuple[int, int, str]:
    return (CHARGE_RANK[charge], -time, charge.value)


def _higher_price(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    try:
        return a if (Decimal(a), a) >= (Decimal(b), b) else b
    except InvalidOperation:  # not a number: still a total order
        return max(a, b)


def _smaller(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


def initial(r: Receipt) -> MessageState:
    charge = None if r.charge_status is None else _charge_of(r)
    return _state(
        r.message_key, r.provider, r.message_id,
        r.status, r.final, r.provider_status, r.event_time, r.error_code, r.error_category, r.retryable,
        charge, r.event_time if charge is not None else None, r.charge_status is ChargeStatus.REFUND_FAIL,
        r.reference, r.price,
    )


def _status_wins(r: Receipt, s: MessageState) -> bool:
    """Whether `r`'s status fields replace `s`'s. The ranks alone decide
    most receipts; the full keys are built only on a tie."""
    rank, state_rank = RANK[r.status], RANK[s.status]
    return rank > state_rank or (rank == state_rank and _receipt_status_key(r) > _state_status_key(s))


def merge(s: MessageState, r: Receipt) -> MessageState:
    """The state after adding receipt `r` to the set behind `s`."""
    won = r if _status_wins(r, s) else s  # the status fields all come from one side
    charge, charge_time = s.charge_status, s.charge_time
    # Most receipts carry no charge, reference or price: those are kept
    # without calling the helpers that would keep them.
    if r.charge_status is not None:
        new_charge = _charge_of(r)
        assert new_charge is not None
        if (charge is None or charge_time is None
                or _charge_key(new_charge, r.event_time) > _charge_key(charge, charge_time)):
            charge, charge_time = new_charge, r.event_time
    return _state(
        s.message_key, s.provider, s.message_id,
        won.status, won.final, won.provider_status, won.event_time, won.error_code, won.error_category,
        won.retryable,
        charge, charge_time, s.refund_failed or r.charge_status is ChargeStatus.REFUND_FAIL,
        s.reference if r.reference is None else _smaller(s.reference, r.reference),
        s.price if r.price is None else _higher_price(s.price, r.price),
    )


def _changes_nothing(s: MessageState, r: Receipt) -> bool:
    """True when `merge(s, r)` would equal `s`: a duplicate, a transient after a
    final, a status reported again. The common case in a stream, decided
    without building a new state; each clause mirrors one part of `merge`."""
    if _status_wins(r, s):
        return False
    if r.charge_status is not None:
        charge = _charge_of(r)
        assert charge is not None
        if (s.charge_status is None or s.charge_time is None
                or _charge_key(charge, r.event_time) > _charge_key(s.charge_status, s.charge_time)):
            return False
        if r.charge_status is ChargeStatus.REFUND_FAIL and not s.refund_failed:
            return False
    if r.reference is not None and (s.reference is None or r.reference < s.reference):
        return False
    return r.price is None or _higher_price(s.price, r.price) == s.price


def fold(state: MessageState | None, r: Receipt) -> tuple[MessageState, list[Emitted]]:
    if state is None:
        new = initial(r)
        previous = previous_charge = None
        refund_failed_before = False
    elif _changes_nothing(state, r):
        return state, []
    else:
        # No `new == state` check: `_changes_nothing` is exact (a property
        # test holds it to `merge`), so past it the state has changed.
        new = merge(state, r)
        previous, previous_charge = state.status, state.charge_status
        refund_failed_before = state.refund_failed
    emitted: list[Emitted] = [] if new.status is previous else [
        status_change(new, previous, _uuid5(new.message_key.encode() + _STATUS_SUFFIX[new.status]))]
    charge = new.charge_status
    if charge is None:  # and so no refund failure either: the common case ends here
        return new, emitted
    if charge is not previous_charge:
        assert new.charge_time is not None
        emitted.append(charge_change(new, previous_charge, charge, new.charge_time, False,
                                     _uuid5(new.message_key.encode() + _CHARGE_SUFFIX[charge])))
    if new.refund_failed and not refund_failed_before:
        emitted.append(charge_change(new, charge, ChargeStatus.REFUND_FAIL, r.event_time, True,
                                     _uuid5(new.message_key.encode() + _CHARGE_SUFFIX[ChargeStatus.REFUND_FAIL])))
    return new, emitted


def status_change(s: MessageState, previous: Status | None, id: str) -> StatusChange:
    """The StatusChange that announces state `s`'s status, coming from
    `previous`, with the given id: `change_id(key, "status", ...)` from the
    fold, a correction's id from `dlr rebuild`."""
    return _status_record(
        id, s.message_key, s.provider, s.message_id, previous, s.status, s.final, s.provider_status,
        s.event_time, s.error_code, s.error_category, s.retryable, s.reference,
    )


def charge_change(s: MessageState, previous: ChargeStatus | None, charge: ChargeStatus, time: int,
                  notification: bool, id: str) -> ChargeChange:
    """The ChargeChange that announces `charge` for state `s` at `time`,
    coming from `previous`, with the given id (as for `status_change`)."""
    return ChargeChange(
        id=id, message_key=s.message_key, provider=s.provider, message_id=s.message_id, previous=previous,
        charge_status=charge, event_time=time, notification=notification, reference=s.reference, price=s.price,
    )


def fold_into(states: dict[str, MessageState], receipts: Iterable[Receipt],
              emitted: list[Emitted] | None = None) -> dict[str, MessageState]:
    """Fold receipts, in order, into `states` (updated in place and returned),
    each into the state of its message key, as the stream does; what the fold
    emits is appended to `emitted` when one is given. The one offline fold
    driver: `dlr fold`, `dlr up`'s check, `dlr rebuild` and the bench."""
    if emitted is None:
        for r in receipts:
            key = r.message_key
            states[key] = fold(states.get(key), r)[0]
        return states
    for r in receipts:
        key = r.message_key
        state, changes = fold(states.get(key), r)
        states[key] = state
        emitted.extend(changes)
    return states


def fold_all(receipts: Iterable[Receipt]) -> tuple[dict[str, MessageState], list[Emitted]]:
    """Fold a sequence offline from no state: the states and everything emitted."""
    emitted: list[Emitted] = []
    return fold_into({}, receipts, emitted), emitted
