"""The fold's fast paths give what the plain ways give: ids are uuid5 for
every status and charge status, records equal those their __init__ builds."""

from __future__ import annotations

import uuid

from streams.fold import ID_NAMESPACE, fold_all
from streams.model import ChargeChange, ChargeStatus, Receipt, Status, StatusChange

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
