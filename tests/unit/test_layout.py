"""The tree is the architecture: each layer imports only the layers beneath it.

    core                      pure: model, providers, fold, records
    settings, topics          the vocabulary every layer shares
    serde                     bytes <-> records
    kafka                     clients, admin, broker and worker processes
    worker                    the Faust app, commit protocol, fence, webhooks
    ops                       the operators' tools
    cli                       the `dlr` command

Read from the source (every import, at any depth in a module), so a lazy
import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "streams"

# What each layer may import of streams (itself always).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "settings": {"core", "topics"},
    "topics": {"core", "settings"},
    "serde": {"core", "settings", "topics"},
    "kafka": {"core", "settings", "topics", "serde"},
    "worker": {"core", "settings", "topics", "serde", "kafka"},
    "ops": {"core", "settings", "topics", "serde", "kafka", "worker"},
    "cli": {"core", "settings", "topics", "serde", "kafka", "worker", "ops"},
    "__main__": {"cli"},
    "__init__": set(),
}
# Imports the pure core never makes.
NOT_IN_CORE = {"faust", "mode", "aiokafka", "confluent_kafka", "asyncio", "aiohttp", "rocksdict"}


def layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "streams":
                names.update(f"streams.{alias.name}" for alias in node.names)
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "schemas" not in p.parts)


def test_every_module_has_a_layer() -> None:
    assert {layer_of(p) for p in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_layers_beneath(path: Path) -> None:
    layer = layer_of(path)
    wrong = set()
    for name in imported(path):
        parts = name.split(".")
        if parts[0] != "streams" or len(parts) < 2:
            continue
        target = parts[1]
        if target != layer and target not in ALLOWED[layer]:
            wrong.add(name)
    assert not wrong, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(wrong)}"


@pytest.mark.parametrize("path", [p for p in MODULES if layer_of(p) == "core"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_is_pure(path: Path) -> None:
    roots = {name.split(".")[0] for name in imported(path)}
    assert not roots & NOT_IN_CORE, f"{path.relative_to(PACKAGE)} imports {sorted(roots & NOT_IN_CORE)}"
