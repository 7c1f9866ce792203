"""Generated Jasmin HTTP DLRs for the benches and tests: the POST form of
DLRThrower.http_dlr_callback (jookies/jasmin jasmin/routing/throwers.py), its
fields in the order it builds them, a level 1 DLR for the submit and a level 2
DLR for each receipt (receiving-dlr.rst)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

# Whole message lives: the submit's command_status, then the receipts (":code" for err).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("ESME_ROK", "DELIVRD"),
    ("ESME_ROK", "ACCEPTD", "DELIVRD"),
    ("ESME_ROK", "UNDELIV:001"),
    ("ESME_ROK", "EXPIRED"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    # Jasmin's message id is a UUID; the last group is the message number, in decimal.
    fields = {"id": f"6f1c2a7e-5d0b-4c1e-9b8a-{mid:012d}", "level": "1", "message_status": word,
              "connector": "smsc-a"}
    if not word.startswith("ESME_"):
        smsc_id = f"{mid:x}".upper()
        fields.update(level="2", connector=smsc_id, id_smsc=smsc_id, sub="001",
                      dlvrd="001" if word == "DELIVRD" else "000",
                      subdate=(t - dt.timedelta(minutes=1)).strftime("%y%m%d%H%M"),
                      donedate=t.strftime("%y%m%d%H%M"), err=code or "000", text="Your code is 4821")
    return urlencode(fields).encode()
