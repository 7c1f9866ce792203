"""The fence's contract: every private part of faust-streaming, mode and
aiokafka the worker reads or replaces exists in the pinned versions with the
expected signature, and a version that lacks one stops the worker at start
with one line and exit code 2."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from streams.worker import faust_compat
from streams.worker.faust_compat import surface
from streams.worker.faust_compat.surface import Touch

FENCE = Path(faust_compat.__file__).parent
WORKER = FENCE.parent


def test_the_pinned_libraries_have_everything_the_fence_touches() -> None:
    assert surface.check(faust_compat.TOUCHES) == []
    faust_compat.require()  # does not raise


@pytest.mark.parametrize("touch", faust_compat.TOUCHES, ids=lambda t: f"{t.owner}.{t.name}")
def test_removing_what_the_fence_touches_is_found(touch: Touch, monkeypatch: Any) -> None:
    """Each entry of the contract really is checked: take it away and the
    check names it."""
    module_name, _, class_name = touch.owner.partition(":")
    import importlib

    holder: Any = importlib.import_module(module_name)
    if class_name:
        holder = getattr(holder, class_name)
    if touch.assigned:
        monkeypatch.setattr(surface, "_assigned_in", lambda cls, name: name != touch.name)
    else:  # gone from the class and from every base that has it
        for owner in holder.__mro__ if isinstance(holder, type) else [holder]:
            if touch.name in vars(owner):
                monkeypatch.delattr(owner, touch.name)
    problems = surface.check([touch])
    assert len(problems) == 1 and touch.name in problems[0]


def test_a_changed_signature_is_found(monkeypatch: Any) -> None:
    from faust.transport.consumer import Consumer

    async def _wait_next_records(self: Any, timeout: float, extra: int) -> Any: ...

    monkeypatch.setattr(Consumer, "_wait_next_records", _wait_next_records)
    (problem,) = surface.check(faust_compat.TOUCHES)
    assert "_wait_next_records takes (timeout, extra), expected (timeout)" in problem


def test_the_worker_refuses_to_start_without_them(monkeypatch: Any, capsys: Any, tmp_path: Path) -> None:
    """The start-up check: one line on stderr, exit code 2, before any
    connection is made (the broker address is not even reachable)."""
    from faust.transport.consumer import Consumer

    from streams.worker import run as worker_run
    from streams.worker.app import WorkerConfig

    monkeypatch.delattr(Consumer, "_commit_offsets")
    config = WorkerConfig(bootstrap="127.0.0.1:1", partitions=4, store="memory://", data_dir=str(tmp_path),
                          web_host="127.0.0.1", web_port=0, guarantee="at_least_once", session_timeout=10.0,
                          state_version=1)
    assert worker_run.run(config) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "faust.transport.consumer.Consumer._commit_offsets is gone" in err[0]
    assert not any(tmp_path.iterdir())  # nothing started


def _private_uses(path: Path) -> set[str]:
    """`x._name` attribute uses in a module, other than on self or a module of ours."""
    found = set()
    for match in re.finditer(r"(?<![\w.])(\w+)\._([a-z]\w*)", path.read_text()):
        owner, name = match.groups()
        if owner in {"self", "os", "sys", "cls", "exit_"}:
            continue
        found.add(f"_{name}")
    return found


def test_private_attributes_are_touched_only_inside_the_fence() -> None:
    """Outside faust_compat, the worker uses no private attribute of another
    object (the fence is the one place that does)."""
    outside = {p: _private_uses(p) for p in WORKER.rglob("*.py") if FENCE not in p.parents}
    assert {str(p.relative_to(WORKER)): uses for p, uses in outside.items() if uses} == {}


def test_every_private_attribute_the_fence_uses_is_in_the_contract() -> None:
    declared = {t.name for t in faust_compat.TOUCHES}
    used = set()
    for path in FENCE.glob("*.py"):
        if path.name == "surface.py":
            continue
        used |= _private_uses(path)
    ours = {"_ack", "_commit_offsets", "_perform_seek", "_wait_next_records", "_restart_ledger",
            "_reread_passed_over", "_until_seek"}  # the fence's own names for what it wraps
    assert used - declared - ours == set()


def test_every_override_names_what_it_replaces() -> None:
    """Each fence module's docstring names the upstream code it touches."""
    for path in FENCE.glob("*.py"):
        if path.name in {"__init__.py", "surface.py"}:
            continue
        module = __import__(f"streams.worker.faust_compat.{path.stem}", fromlist=["TOUCHES"])
        doc = inspect.getdoc(module) or ""
        assert "replace" in doc or "wrap" in doc or "sets" in doc, path.name
