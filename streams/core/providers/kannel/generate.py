"""Generated Kannel dlr-url callbacks for the benches and tests: the query of
the template in parse.py, an SMSC ack (8) and then the SMSC's receipts, whose
reply is SMPP receipt text. A step is `<type>/<stat word>` (the type alone
for the ack), as the receipt's provider_status."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

# Whole message lives: transient steps, then the final (":code" for the receipt's err).
LIFECYCLES: tuple[tuple[str, ...], ...] = (
    ("8", "4/ENROUTE", "1/DELIVRD"),
    ("8", "2/UNDELIV:001"),
    ("8", "1/DELIVRD"),
    ("8", "4/ACCEPTD", "34/EXPIRED"),
)


def receipt(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    kind, _, stat = word.partition("/")
    fid = f"{mid:012d}"  # the SMSC's id; the message number in decimal
    if stat:
        submitted = (t - dt.timedelta(minutes=1)).strftime("%y%m%d%H%M")
        reply = (f"id:{fid} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:{submitted} "
                 f"done date:{t.strftime('%y%m%d%H%M')} stat:{stat} err:{code or '000'} text:Your code is 4821")
    else:
        reply = "ACK/"
    return urlencode({"type": kind, "reply": reply, "fid": fid, "id": f"0b7c4e12-5a3d-4f6e-8c9b-{mid:012x}",
                      "to": "4512345678", "ts": str(int(t.timestamp())), "smsc": "smsc-a"}).encode()
