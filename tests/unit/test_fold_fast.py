"""The fold's fast paths give what the plain ways give: ids are uuid5 for
every status and charge status, records equal those their __init__ builds."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from streams.core.fold import ID_NAMESPACE, _state, _status_record, fold_all
from streams.core.model import ChargeChange, ChargeStatus, MessageState, Receipt, Status, StatusChange

T0 = 1_780_000_000_000_000


def _uuid5(key: str, kind: str, value: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{key}\x1f{kind}\x1f{value}"))


def test_every_emitted_id_is_the_uuid5_of_its_key_and_value() -> None:
    events = [
        Receipt("vonage", f"m-ÆØ-{n}", status, status is Status.DELIVERED, "X", T0 + n, charge_status=charge)
        for n, (status, charge) in enumerate(
            (s, c) for s in Status for c in (None, *ChargeStatus)
        )
    ]
    _, emitted = fold_all(events)
    kinds = set()
    for e in emitted:
        if isinstance(e, StatusChange):
            assert e.id == _uuid5(e.message_key, "status", e.status.value)
            kinds.add(e.status)
        else:
            assert isinstance(e, ChargeChange)
            assert e.id == _uuid5(e.message_key, "charge", e.charge_status.value)
            kinds.add(e.charge_status)
    assert kinds == {*Status, *ChargeStatus}


def _distinct_values(cls: type) -> list[object]:
    # A different value per field, so a builder that skips or swaps one differs.
    return [f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls)]


def test_builders_give_what_init_gives() -> None:
    for cls, build in ((MessageState, _state), (StatusChange, _status_record)):
        values = _distinct_values(cls)
        built, expected = build(*values), cls(*values)  # type: ignore[operator]
        assert type(built) is cls
        assert built == expected and hash(built) == hash(expected) and repr(built) == repr(expected)
        assert all(getattr(built, f.name) == v for f, v in zip(dataclasses.fields(cls), values, strict=True))
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, dataclasses.fields(cls)[0].name, None)
