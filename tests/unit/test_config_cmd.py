"""`dlr config`: every setting, its effective value, secrets masked."""

from __future__ import annotations

import json

import pytest

from streams import cli
from streams.settings import MASK, SETTINGS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(["config", *args]) == 0
    return capsys.readouterr().out


def test_every_setting_has_a_name_env_default_and_help() -> None:
    for name, setting in SETTINGS.items():
        assert setting.name == name and setting.env == "DLR_" + name.upper()
        assert setting.help.strip(), name
        assert isinstance(setting.default, str)


def test_json_lists_every_setting_with_its_effective_value(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in SETTINGS.values():
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("DLR_BROKER", "kafka-1:9092,kafka-2:9092")
    rows = {r["name"]: r for r in json.loads(run(capsys, "--json"))}
    assert list(rows) == list(SETTINGS)
    assert rows["broker"] == {**rows["broker"], "env": "DLR_BROKER", "value": "kafka-1:9092,kafka-2:9092",
                              "source": "env", "default": SETTINGS["broker"].default}
    assert rows["partitions"]["value"] == SETTINGS["partitions"].default
    assert rows["partitions"]["source"] == "default"
    assert all(r["help"] == SETTINGS[n].help for n, r in rows.items())


def test_secrets_are_masked_when_set(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = [s for s in SETTINGS.values() if s.secret]
    assert {"sasl_password", "schema_registry_auth"} <= {s.name for s in secrets}
    for setting in secrets:
        monkeypatch.setenv(setting.env, "hunter2-" + setting.name)
    monkeypatch.setenv("DLR_SCHEMA_REGISTRY_URL", "https://dlr:pa55word@registry.example:8081")
    text = run(capsys)
    data = run(capsys, "--json")
    for out in (text, data):
        assert "hunter2" not in out and "pa55word" not in out
        assert MASK in out
    rows = {r["name"]: r for r in json.loads(data)}
    assert rows["sasl_password"]["value"] == MASK
    assert rows["schema_registry_url"]["value"] == f"https://dlr:{MASK}@registry.example:8081"


def test_unset_secret_shows_empty(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLR_SASL_PASSWORD", raising=False)
    rows = {r["name"]: r for r in json.loads(run(capsys, "--json"))}
    assert rows["sasl_password"]["value"] == ""


def test_text_shows_name_env_value_default_and_help(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLR_WEB_PORT", "7070")
    text = run(capsys)
    lines = text.splitlines()
    (line,) = [line for line in lines if line.startswith("web_port ")]
    assert "DLR_WEB_PORT" in line and "7070" in line and "default 6066" in line
    assert lines[lines.index(line) + 1].strip() == SETTINGS["web_port"].help
    for setting in SETTINGS.values():
        assert setting.env in text
