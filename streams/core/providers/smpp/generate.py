"""Generated SMPP receipt text for the benches and tests (SMPP 3.4 Appendix B)."""

from __future__ import annotations

import datetime as dt

# Whole message lives: transient steps, then the final.
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("BUFFRED", "ENROUTE", "DELIVRD"),
    ("ENROUTE", "UNDELIV"),
    ("ENROUTE", "DELIVRD"),
    ("ACKED", "EXPIRED"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    stamp = t.strftime("%y%m%d%H%M")
    err = "000" if word in ("DELIVRD", "ENROUTE", "BUFFRED", "ACKED") else "001"
    return (f"id:{mid:010d} sub:001 dlvrd:000 submit date:{stamp} done date:{stamp} "
            f"stat:{word} err:{err} text:").encode()
