"""The contract between the fence and the libraries it overrides: every
private attribute, method and module global of faust-streaming, mode and
aiokafka that the fence reads or replaces, with the parameters it expects.

`check()` holds the installed libraries to it. The worker runs it before it
starts (`require`), and exits 2 with one line naming what is gone; the unit
tests run it against the pinned versions. An upgrade that renames or removes
one of these then stops the worker at start instead of letting it run
without the guarantees the overrides give."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Touch:
    """One thing the fence relies on.

    `owner`: a module, or a class as `module:Class`. `name`: the attribute.
    `params`: for a callable, the names of its parameters after `self`, in
    order (None: not a callable, or any signature). `assigned`: an instance
    attribute, which exists only once an object is made: the check reads the
    class's source (and its bases') for an assignment `self.<name> =`.
    `why`: what the fence does with it."""

    owner: str
    name: str
    why: str
    params: tuple[str, ...] | None = None
    assigned: bool = False

    def problem(self) -> str | None:
        """None when the installed libraries have it as expected, else the
        one-line reason."""
        module_name, _, class_name = self.owner.partition(":")
        where = f"{self.owner.replace(':', '.')}.{self.name}"
        try:
            holder: object = importlib.import_module(module_name)
            if class_name:
                holder = getattr(holder, class_name)
        except (ImportError, AttributeError) as exc:
            return f"{self.owner.replace(':', '.')} is gone ({exc})"
        if self.assigned:
            if not isinstance(holder, type) or not _assigned_in(holder, self.name):
                return f"{where} is no longer set by {self.owner.replace(':', '.')}"
            return None
        if not hasattr(holder, self.name):
            return f"{where} is gone"
        if getattr(getattr(holder, self.name), "__isabstractmethod__", False):
            return f"{where} is only declared now, not implemented"
        if self.params is not None:
            try:
                signature = inspect.signature(getattr(holder, self.name))
            except (TypeError, ValueError):
                return f"{where} is no longer a callable"
            names = tuple(p for p in signature.parameters if p != "self")
            if names != self.params:
                return f"{where} takes ({', '.join(names)}), expected ({', '.join(self.params)})"
        return None


def _assigned_in(cls: type, name: str) -> bool:
    pattern = re.compile(rf"\bself\.{re.escape(name)}\s*(:[^=]*)?=[^=]")
    for klass in cls.__mro__:
        if klass is object:
            continue
        if name in getattr(klass, "__slots__", ()):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if pattern.search(source):
            return True
    return False


def check(touches: Iterable[Touch]) -> list[str]:
    """Every way the installed libraries differ from `touches`."""
    return [problem for touch in touches if (problem := touch.problem()) is not None]
