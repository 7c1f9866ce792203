"""The CI check on schemas/: every current schema reads data written with
every released one (schemas/released/<version>/, BACKWARD_TRANSITIVE in the
registry's terms), judged by the `avro` package's own checker.

A release copies schemas/dlr.streams.*.avsc to schemas/released/<version>/
and never edits that copy again; topics keep up to 90 days of records, so a
consumer on the new schema meets records of older releases."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import fastavro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

import streams
from streams.core import records
from streams.core.fold import fold_all
from streams.core.model import Receipt, Status
from streams.serde import codec, registry

RELEASED = codec.schema_dir() / "released"


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def releases() -> list[Path]:
    return sorted((p for p in RELEASED.iterdir() if p.is_dir()), key=lambda p: version_key(p.name))


def expanded(path: Path) -> dict[str, Any]:
    """The schema with its named types (defined in sibling files) inline at
    first use, as the avro package needs it."""
    return json.loads(json.dumps(fastavro.schema.load_schema(str(path), _write_hint=False)))  # type: ignore[no-any-return]


def problems(reader: dict[str, Any], writer: dict[str, Any]) -> list[str]:
    """Why `reader` cannot read data written with `writer` (empty: it can)."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer)))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted(kind.name for kind in result.incompatibilities))
    return [f"{kinds} at {', '.join(sorted(result.locations))}: {', '.join(sorted(map(str, result.messages)))}"]


def test_releases_are_versions_up_to_the_current_one() -> None:
    assert releases(), "schemas/released/ holds no release"
    for release in releases():
        assert version_key(release.name) <= version_key(streams.__version__), release.name
        assert {p.name for p in release.glob("*.avsc")} >= {f"{codec.NAMESPACE}.{n}.avsc" for n in
                                                            ("Status", "ErrorCategory", "ChargeStatus")}


@pytest.mark.parametrize("release", releases(), ids=lambda p: p.name)
@pytest.mark.parametrize("name", codec.RECORD_NAMES)
def test_current_schema_reads_every_release(release: Path, name: str) -> None:
    old = release / f"{codec.NAMESPACE}.{name}.avsc"
    if not old.is_file():
        pytest.skip(f"{name} is newer than release {release.name}")
    current = expanded(codec.schema_path(name))
    assert problems(current, expanded(old)) == [], (
        f"schemas/{old.name} is not backward compatible with release {release.name}: give a new field a"
        " default, keep removed enum symbols or give the enum a default, never change a field's type")


def _current(name: str) -> dict[str, Any]:
    return expanded(codec.schema_path(name))


def test_a_new_field_without_default_is_caught() -> None:
    changed = _current("StatusChange")
    changed["fields"].append({"name": "country", "type": "string"})
    assert any("country" in p for p in problems(changed, _current("StatusChange")))


def test_a_new_field_with_default_passes() -> None:
    changed = _current("StatusChange")
    changed["fields"].append({"name": "country", "type": ["null", "string"], "default": None})
    assert problems(changed, _current("StatusChange")) == []


def _definition(node: Any, name: str) -> dict[str, Any]:
    """The inline definition of a named type somewhere in a schema."""
    if isinstance(node, dict):
        if node.get("name") in (name, f"{codec.NAMESPACE}.{name}") and node.get("type") in ("enum", "record"):
            return node
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        children = []
    for child in children:
        try:
            return _definition(child, name)
        except LookupError:
            pass
    raise LookupError(name)


def test_a_removed_enum_symbol_is_caught_unless_the_enum_has_a_default() -> None:
    changed = _current("ChargeChange")
    _definition(changed, "ChargeStatus")["symbols"].remove("REFUND_FAIL")  # ChargeStatus has no default
    assert problems(changed, _current("ChargeChange")) != []
    changed = _current("StatusChange")
    _definition(changed, "Status")["symbols"].remove("SKIPPED")  # defaults to UNKNOWN: old SKIPPEDs read so
    assert problems(changed, _current("StatusChange")) == []


def test_a_changed_type_is_caught() -> None:
    changed = _current("DeadLetter")
    next(f for f in changed["fields"] if f["name"] == "source_offset")["type"] = "string"
    assert problems(changed, _current("DeadLetter")) != []


def test_records_of_an_older_release_still_decode(tmp_path: Path) -> None:
    """A single-object record written with a released schema (another
    fingerprint) is resolved into the current schema by registry.decode_any."""
    old_dir = tmp_path / "0.0.9"
    shutil.copytree(releases()[-1], old_dir)
    old_path = old_dir / f"{codec.NAMESPACE}.StatusChange.avsc"
    old = json.loads(old_path.read_text())
    old["fields"] = [f for f in old["fields"] if f["name"] != "reference"]
    old_path.write_text(json.dumps(old))

    _, emitted = fold_all([Receipt("smpp", "1", Status.DELIVERED, True, "DELIVRD", 1_780_000_000_000_000,
                                   reference="r-1")])
    record = records.to_avro(emitted[0])
    writer = expanded(old_path)
    canonical = fastavro.schema.to_parsing_canonical_form(writer)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(codec._strip_logical(writer)),
                               {k: v for k, v in record.items() if k != "reference"})
    data = codec.MAGIC + bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO")) + body.getvalue()

    name, decoded = registry.decode_any(data, expect="StatusChange", released=tmp_path)
    assert (name, decoded) == ("StatusChange", {**record, "reference": None})
    # the current schema's records decode as before
    current = codec.encode("StatusChange", record)
    assert registry.decode_any(current, released=tmp_path) == ("StatusChange", record)
