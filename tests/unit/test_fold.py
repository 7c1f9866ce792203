"""The fold: order and duplicate independence, final-state precedence, emission."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.fold import change_id, fold, fold_all
from streams.core.model import RANK, ChargeChange, ChargeStatus, ErrorCategory, Receipt, Status, StatusChange

T0 = 1_780_000_000_000_000


def receipt(status: Status, t: int = 0, *, mid: str = "m1", final: bool | None = None, **kw: object) -> Receipt:
    return Receipt(
        provider="gatewayapi", message_id=mid, status=status,
        final=RANK[status] >= 50 if final is None else final,
        provider_status=status.value, event_time=T0 + t * 1_000_000, **kw,  # type: ignore[arg-type]
    )


receipts = st.builds(
    Receipt,
    provider=st.sampled_from(["gatewayapi", "vonage"]),
    message_id=st.sampled_from(["a", "b", "c"]),
    status=st.sampled_from(list(Status)),
    final=st.booleans(),
    provider_status=st.sampled_from(["X", "Y"]),
    event_time=st.integers(0, 3).map(lambda i: T0 + i),
    error_code=st.sampled_from([None, "1", "2"]),
    error_category=st.sampled_from([None, ErrorCategory.UNREACHABLE, ErrorCategory.GENERIC]),
    retryable=st.sampled_from([None, True, False]),
    charge_status=st.sampled_from([None, *ChargeStatus]),
    reference=st.sampled_from([None, "r1", "r2"]),
    price=st.sampled_from([None, "0.10", "0.1", "1.5"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(receipts, max_size=12), st.randoms(use_true_random=False), st.data())
def test_state_is_independent_of_order_and_duplicates(events: list[Receipt], rnd, data) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(events)
    rnd.shuffle(shuffled)
    dupes = data.draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    mixed = shuffled + dupes
    rnd.shuffle(mixed)
    assert fold_all(events)[0] == fold_all(mixed)[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(receipts, min_size=1, max_size=12))
def test_status_changes_only_move_up_and_ids_are_unique(events: list[Receipt]) -> None:
    states, emitted = fold_all(events)
    last: dict[str, int] = {}
    ids = [e.id for e in emitted]
    assert len(ids) == len(set(ids))
    for e in emitted:
        if isinstance(e, StatusChange):
            assert RANK[e.status] > last.get(e.message_key, -1)
            last[e.message_key] = RANK[e.status]
    for key, state in states.items():
        assert RANK[state.status] == max(RANK[r.status] for r in events if r.message_key == key)
        # the last status change emitted is the state's status
        assert last[key] == RANK[state.status]


def test_transient_after_final_never_moves_state() -> None:
    state, _out = fold(None, receipt(Status.DELIVERED, 5))
    state2, out2 = fold(state, receipt(Status.SENT, 9))
    assert state2.status is Status.DELIVERED and state2.event_time == state.event_time
    assert out2 == []


def test_gatewayapi_accepted_is_final_and_holds_against_transients() -> None:
    state, _ = fold(None, receipt(Status.ACCEPTED, 1, final=True))
    state, out = fold(state, receipt(Status.SENT, 2, final=False))
    assert state.status is Status.ACCEPTED and state.final and out == []


def test_late_delivery_beats_expired() -> None:
    state, _ = fold(None, receipt(Status.EXPIRED, 1))
    state, out = fold(state, receipt(Status.DELIVERED, 9))
    assert state.status is Status.DELIVERED
    assert [(e.previous, e.status) for e in out if isinstance(e, StatusChange)] == [
        (Status.EXPIRED, Status.DELIVERED)
    ]


def test_earliest_time_wins_among_equal_ranks_without_emitting() -> None:
    state, _ = fold(None, receipt(Status.DELIVERED, 5))
    state, out = fold(state, receipt(Status.DELIVERED, 3))
    assert state.event_time == T0 + 3_000_000 and out == []


def test_duplicate_emits_nothing() -> None:
    r = receipt(Status.SENT, 1)
    state, out = fold(None, r)
    assert len(out) == 1
    assert fold(state, r) == (state, [])


def test_ids_are_deterministic_per_message_and_status_whatever_the_path() -> None:
    _, direct = fold_all([receipt(Status.DELIVERED, 2)])
    _, stepwise = fold_all([receipt(Status.SENT, 1), receipt(Status.DELIVERED, 2)])
    assert direct[0].id == stepwise[-1].id == change_id("gatewayapi:m1", "status", "DELIVERED")


def test_charge_lifecycle_and_refund_fail_notification() -> None:
    events = [
        receipt(Status.SENT, 1, charge_status=ChargeStatus.AUTHORIZED),
        receipt(Status.DELIVERED, 2, charge_status=ChargeStatus.CAPTURED),
        receipt(Status.DELIVERED, 3, charge_status=ChargeStatus.REFUND_FAIL),
        receipt(Status.DELIVERED, 3, charge_status=ChargeStatus.REFUND_FAIL),
    ]
    states, emitted = fold_all(events)
    charges = [(e.previous, e.charge_status, e.notification) for e in emitted if isinstance(e, ChargeChange)]
    assert charges == [
        (None, ChargeStatus.AUTHORIZED, False),
        (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED, False),
        (ChargeStatus.CAPTURED, ChargeStatus.REFUND_FAIL, True),
    ]
    state = states["gatewayapi:m1"]
    assert state.charge_status is ChargeStatus.CAPTURED and state.refund_failed


def test_refund_fail_first_proves_captured() -> None:
    states, emitted = fold_all([receipt(Status.DELIVERED, 3, charge_status=ChargeStatus.REFUND_FAIL)])
    assert states["gatewayapi:m1"].charge_status is ChargeStatus.CAPTURED
    assert [e.charge_status for e in emitted if isinstance(e, ChargeChange)] == [
        ChargeStatus.CAPTURED, ChargeStatus.REFUND_FAIL,
    ]


def test_refunded_after_captured_moves_and_captured_after_refunded_does_not() -> None:
    states, emitted = fold_all([
        receipt(Status.DELIVERED, 1, charge_status=ChargeStatus.REFUNDED),
        receipt(Status.DELIVERED, 2, charge_status=ChargeStatus.CAPTURED),
    ])
    assert states["gatewayapi:m1"].charge_status is ChargeStatus.REFUNDED
    assert [e.charge_status for e in emitted if isinstance(e, ChargeChange)] == [ChargeStatus.REFUNDED]


def test_messages_are_folded_apart() -> None:
    states, _ = fold_all([receipt(Status.DELIVERED, 1, mid="a"), receipt(Status.REJECTED, 1, mid="b")])
    assert {k: s.status for k, s in states.items()} == {
        "gatewayapi:a": Status.DELIVERED, "gatewayapi:b": Status.REJECTED,
    }


def test_change_id_is_rfc4122_uuid5() -> None:
    import uuid

    from streams.core.fold import ID_NAMESPACE

    for key, kind, value in [("gatewayapi:1", "status", "DELIVERED"), ("vonage:ÆØÅ", "charge", "REFUND_FAIL")]:
        assert change_id(key, kind, value) == str(uuid.uuid5(ID_NAMESPACE, f"{key}\x1f{kind}\x1f{value}"))


@settings(max_examples=500, deadline=None)
@given(st.lists(receipts, min_size=1, max_size=10), receipts)
def test_shortcut_agrees_with_merge(events: list[Receipt], extra: Receipt) -> None:
    from dataclasses import replace

    from streams.core.fold import _changes_nothing, merge

    states, _ = fold_all(events)
    for state in states.values():
        r = replace(extra, provider=state.provider, message_id=state.message_id)
        assert _changes_nothing(state, r) == (merge(state, r) == state)
