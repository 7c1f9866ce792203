"""The mapping file (DLR_MAPPINGS, `--mappings`): what a good file declares,
the one line each kind of bad entry gives, and that the same overrides reach
every place a receipt is parsed: `dlr normalize`, the worker's per-record
options, its webhook keys and its start-up check."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import cli, settings
from streams.core import providers
from streams.core.mappings import MappingError, Mappings, load
from streams.core.model import ErrorCategory, ReceiptError, Status
from streams.core.providers import _wire
from streams.kafka.clients import RawRecord
from streams.serde import envelope
from streams.topics import raw_topic
from streams.worker import steps
from streams.worker.webhooks import receive

GOOD = """\
# a deployment's overrides
[smpp.statuses]
DND_REJECTED = { status = "REJECTED", final = true }
"Held Back" = { status = "QUEUED", final = false }

[gatewayapi.errors]
"0x0401" = { category = "BARRED", retryable = false }
" 0x0402 " = { category = "NETWORK" }

[vonage]
statuses.submitted = { status = "SENT", final = false }
"""
SOURCE = "DLR_MAPPINGS /etc/dlr/map.toml"
DND = b"id:77 sub:001 dlvrd:000 submit date:2603120900 done date:2603120901 stat:DND_REJECTED err:000 text:hi"


def test_a_good_file_declares_words_case_folded_and_codes_stripped() -> None:
    m = load(GOOD, SOURCE)
    assert m.statuses == {
        "smpp": {"dnd_rejected": (Status.REJECTED, True), "held back": (Status.QUEUED, False)},
        "vonage": {"submitted": (Status.SENT, False)},
    }
    assert m.errors == {"gatewayapi": {"0x0401": (ErrorCategory.BARRED, False),
                                       "0x0402": (ErrorCategory.NETWORK, None)}}
    assert m.counts() == (3, 2)
    assert load("", SOURCE) == Mappings() and load("[smpp]\n[smpp.errors]\n", SOURCE) == Mappings()


def test_the_overrides_come_before_the_tables() -> None:
    options = providers.Options(mappings=load(GOOD, SOURCE))
    table = {"DELIVRD": (Status.DELIVERED, True), "DND_REJECTED": (Status.UNDELIVERED, True)}
    assert _wire.status(options, "smpp", table, "Dnd_Rejected") == (Status.REJECTED, True)  # any case
    assert _wire.status(options, "smpp", table, "DELIVRD") == (Status.DELIVERED, True)  # the table still counts
    assert _wire.status(providers.Options(), "smpp", table, "DND_REJECTED") == (Status.UNDELIVERED, True)
    with pytest.raises(ReceiptError, match="unknown vonage status 'DND_REJECTED'"):
        _wire.status(options, "vonage", {}, "DND_REJECTED")  # another provider's override does not apply
    assert _wire.error(options, "gatewayapi", {}, "0x0401", []) == ("0x0401", ErrorCategory.BARRED, False)
    assert _wire.error(options, "gatewayapi", {}, "0x0402", []) == ("0x0402", ErrorCategory.NETWORK, True)  # default


def test_an_smpp_receipt_of_an_unknown_word_parses_with_the_mapping() -> None:
    with pytest.raises(ReceiptError, match="DND_REJECTED"):
        providers.normalize("smpp", DND, providers.Options())
    receipt = providers.normalize("smpp", DND, providers.Options(mappings=load(GOOD, SOURCE)))
    assert (receipt.status, receipt.final, receipt.provider_status) == (Status.REJECTED, True, "DND_REJECTED")


@pytest.mark.parametrize(("text", "message"), [
    ("[smpp.statuses\n", 'not TOML: Expected \']\' at the end of a table declaration (at line 1, column 15)'),
    ("[smtp.statuses]\nX = { status = \"SENT\", final = false }\n",
     f"smtp: unknown provider (known: {', '.join(providers.names())})"),
    ("smpp = 3\n", "smpp: expected a table of statuses and errors, got 3"),
    ("[smpp.status]\n", "smpp.status: unknown table (expected statuses or errors)"),
    ("[smpp]\nstatuses = [1]\n", "smpp.statuses: expected a table of entries, got [1]"),
    ('[smpp.statuses]\nDND_REJECTED = { status = "REJECT", final = true }\n',
     'smpp.statuses.DND_REJECTED: status "REJECT" is not one of PENDING, SCHEDULED, QUEUED, SENT, ACCEPTED, '
     "UNKNOWN, EXPIRED, SKIPPED, CANCELLED, REJECTED, UNDELIVERED, DELIVERED"),
    ('[smpp.statuses]\nDND_REJECTED = { status = "rejected", final = true }\n',
     'smpp.statuses.DND_REJECTED: status "rejected" is not one of'),
    ('[smpp.statuses]\nDND_REJECTED = { status = "REJECTED" }\n', "smpp.statuses.DND_REJECTED: missing field final"),
    ('[smpp.statuses]\nDND_REJECTED = { status = "REJECTED", final = "yes" }\n',
     'smpp.statuses.DND_REJECTED: final "yes" is not true or false'),
    ('[smpp.statuses]\nDND_REJECTED = { status = "REJECTED", final = true, category = "BARRED" }\n',
     "smpp.statuses.DND_REJECTED: unknown field category (allowed: status, final)"),
    ('[smpp.statuses]\nDND_REJECTED = "REJECTED"\n',
     'smpp.statuses.DND_REJECTED: expected { status = ..., final = ... }, got "REJECTED"'),
    ('[smpp.statuses]\n"a b" = { status = "SENT", final = false }\n"A B" = { status = "SENT", final = false }\n',
     'smpp.statuses."A B": the same word as "a b" (status words are compared ignoring case)'),
    ('[smpp.statuses]\n" " = { status = "SENT", final = false }\n', 'smpp.statuses." ": an empty status word'),
    ('[gatewayapi.errors]\n"0x0401" = { category = "BARED" }\n',
     'gatewayapi.errors.0x0401: category "BARED" is not one of INVALID_NUMBER, UNREACHABLE, BARRED'),
    ('[gatewayapi.errors]\n"0x0401" = { category = "BARRED", retryable = 0 }\n',
     "gatewayapi.errors.0x0401: retryable 0 is not true or false"),
    ('[gatewayapi.errors]\n"0x0401" = { retryable = false }\n', "gatewayapi.errors.0x0401: missing field category"),
    ('[gatewayapi.errors]\n"7" = { category = "BARRED" }\n" 7" = { category = "BARRED" }\n',
     'gatewayapi.errors." 7": the same code as 7'),
])
def test_each_bad_entry_is_one_line_naming_the_file_and_the_entry(text: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        load(text, SOURCE)
    line = str(caught.value)
    assert line.startswith(f"{SOURCE}: {message}"), line
    assert "\n" not in line


# ---- the file, at the edge ------------------------------------------------------------------


def test_the_file_comes_from_the_flag_else_dlr_mappings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "map.toml"
    good.write_text(GOOD)
    monkeypatch.delenv("DLR_MAPPINGS", raising=False)
    assert settings.mappings() is None and settings.parse_options().mappings is None
    monkeypatch.setenv("DLR_MAPPINGS", str(good))
    assert settings.parse_options().mappings == load(GOOD, SOURCE)
    assert settings.parse_options(mappings_path="").mappings is None  # the flag overrides, even to none
    monkeypatch.setenv("DLR_MAPPINGS", str(tmp_path / "missing.toml"))
    with pytest.raises(MappingError, match=f"^DLR_MAPPINGS {tmp_path}/missing.toml: cannot read: No such file"):
        settings.mappings()
    assert settings.parse_options(mappings_path=str(good)).mappings == load(GOOD, SOURCE)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"# caf\xe9\n")
    with pytest.raises(MappingError, match=f"^--mappings {latin}: not UTF-8 \\(invalid byte at 5\\)$"):
        settings.mappings(str(latin))


def test_dlr_normalize_reads_the_mappings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DLR_MAPPINGS", raising=False)
    receipts = tmp_path / "receipts.txt"
    receipts.write_bytes(DND + b"\n")
    good = tmp_path / "map.toml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.toml"
    bad.write_text('[smpp.statuses]\nDND_REJECTED = { status = "REJECT", final = true }\n')

    assert cli.main(["normalize", "--provider", "smpp", str(receipts)]) == 1
    assert '"error":"unknown smpp status' in capsys.readouterr().out

    assert cli.main(["normalize", "--provider", "smpp", "--mappings", str(good), str(receipts)]) == 0
    assert '"status":"REJECTED","final":true,"provider_status":"DND_REJECTED"' in capsys.readouterr().out

    monkeypatch.setenv("DLR_MAPPINGS", str(good))
    assert cli.main(["normalize", "--provider", "smpp", str(receipts)]) == 0

    assert cli.main(["normalize", "--provider", "smpp", "--mappings", str(bad), str(receipts)]) == 64
    out, err = capsys.readouterr()
    assert out.endswith('"raw_time":"2603120901"}\n')  # the run before; nothing from the refused one
    assert err.splitlines() == [f'dlr normalize: --mappings {bad}: smpp.statuses.DND_REJECTED: status "REJECT" '
                                "is not one of PENDING, SCHEDULED, QUEUED, SENT, ACCEPTED, UNKNOWN, EXPIRED, "
                                "SKIPPED, CANCELLED, REJECTED, UNDELIVERED, DELIVERED"]


# ---- the worker ------------------------------------------------------------------------------


def test_the_workers_per_record_options_carry_the_mappings() -> None:
    value = envelope.make("smpp", DND, "test", received_at=1_773_306_000_000_000)
    record = RawRecord(raw_topic("smpp"), 0, 5, None, value, 1_773_306_000_000)
    [dead] = steps.normalize_raw(record, providers.Options())
    assert dead.receipt is None and dead.out.topic == "dlr.dead-letter"
    [mapped] = steps.normalize_raw(record, providers.Options(mappings=load(GOOD, SOURCE)))
    assert mapped.receipt is not None and mapped.receipt.status is Status.REJECTED
    assert mapped.receipt.event_time == 1_773_306_060_000_000  # its own done date: the rest of the options hold


def test_a_webhook_receipt_only_a_mapping_knows_gets_its_message_key(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "map.toml"
    good.write_text(GOOD)
    monkeypatch.setenv("DLR_MAPPINGS", str(good))
    receive._key_options.cache_clear()
    try:
        assert receive.record_key("smpp", DND) == b"smpp:77"
        receive._key_options.cache_clear()
        monkeypatch.setenv("DLR_MAPPINGS", str(tmp_path / "gone.toml"))  # broken since the start: keyless
        assert receive.record_key("smpp", DND) is None
    finally:
        receive._key_options.cache_clear()


def test_the_worker_refuses_to_start_with_a_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """One line on stderr, exit 2, before any connection (the broker address
    is not even reachable) and before the data directory is touched."""
    from streams.worker import run as worker_run
    from streams.worker.app import WorkerConfig

    bad = tmp_path / "map.toml"
    bad.write_text('[gatewayapi.errors]\n"0x0401" = { category = "BARED" }\n')
    data = tmp_path / "data"
    monkeypatch.setenv("DLR_MAPPINGS", str(bad))
    config = WorkerConfig(bootstrap="127.0.0.1:1", partitions=4, store="memory://", data_dir=str(data),
                          web_host="127.0.0.1", web_port=0, guarantee="at_least_once", session_timeout=10.0,
                          state_version=1)
    assert worker_run.run(config) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f'dlr worker: DLR_MAPPINGS {bad}: gatewayapi.errors.0x0401: category "BARED" is not')
    assert not data.exists()


def test_the_setting_is_listed() -> None:
    setting = settings.SETTINGS["mappings"]
    assert (setting.env, setting.default, setting.secret) == ("DLR_MAPPINGS", "", False)
    assert "TOML" in setting.help
