"""`dlr up`'s closing summary: a rich table on a terminal, the plain lines elsewhere."""

from __future__ import annotations

import io
from typing import Any

import pytest

from streams.ops import up
from streams.topics import DEAD_LETTER, STATUS_CHANGES

SEEN: dict[str, list[dict[str, Any]]] = {
    STATUS_CHANGES: [{"message_key": "vonage:a", "provider": "vonage", "status": "SENT"},
                     {"message_key": "vonage:a", "provider": "vonage", "status": "DELIVERED"},
                     {"message_key": "vonage:b", "provider": "vonage", "status": "UNDELIVERED"}],
    DEAD_LETTER: [{"provider": "smpp"}],
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    up.summary(SEEN, {"vonage": 3, "smpp": 2})
    assert out.getvalue() == (
        "\nSummary\n"
        "  provider     receipts messages  dead  states\n"
        "  vonage              3        2     0  1 DELIVERED, 1 UNDELIVERED\n"
        "  smpp                2        0     1  \n")


def test_rich_table_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Terminal()
    monkeypatch.setattr("sys.stdout", out)
    up.summary(SEEN, {"vonage": 3, "smpp": 2})
    text = out.getvalue()
    assert text.startswith("\nSummary\n")
    assert "1 DELIVERED, 1 UNDELIVERED" in text and "provider" in text and "smpp" in text
