"""Generated raw receipts for tests and benchmarks: every provider, 3-4
receipts per message, in each provider's wire format, with duplicates and
out-of-order pairs. Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

BASE = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)

# A lifecycle per outcome, in each provider's words: transient steps, then the final.
LIFECYCLES: dict[str, list[list[str]]] = {
    "gatewayapi": [["BUFFERED", "ENROUTE", "DELIVERED"], ["ENROUTE", "UNDELIVERABLE:0x1013"],
                   ["SCHEDULED", "ENROUTE", "DELIVERED"], ["ENROUTE", "EXPIRED:0x1023"]],
    "messente": [["ACK", "ACCEPTD", "DELIVRD"], ["ACK", "UNDELIV:1"], ["ACK", "DELIVRD"], ["ACK", "REJECTD:8"]],
    "labsmobile": [["Processed", "Sent", "Delivered"], ["Processed", "Sent", "Undeliverable"],
                   ["Processed", "Sent", "Delivered"], ["Processed", "Expired"]],
    "vonage": [["buffered", "accepted", "delivered"], ["accepted", "failed:2"], ["accepted", "delivered"],
               ["accepted", "rejected:9"]],
    "smpp": [["BUFFRED", "ENROUTE", "DELIVRD"], ["ENROUTE", "UNDELIV"], ["ENROUTE", "DELIVRD"],
             ["ACKED", "EXPIRED"]],
}


def _gatewayapi(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return json.dumps({"id": mid, "msisdn": 4512000000 + mid % 10**6, "time": int(t.timestamp()),
                       "status": word, "error": None, "code": code, "userref": f"ref-{mid}",
                       "country_code": "DK", "country_prefix": 45}, separators=(",", ":")).encode()


def _messente(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return json.dumps({"status": word, "sender": "Acme", "err": int(code or 0),
                       "message_id": f"00000000-0000-4000-8000-{mid:012d}", "to": "+37255500000",
                       "channel": "sms", "error": None, "omnimessage_id": f"o-{mid}",
                       "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%f"), "price_info": None},
                      separators=(",", ":")).encode()


def _labsmobile(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return urlencode({"acklevel": "operator", "msisdn": "34600000000", "status": word, "desc": "",
                      "subid": f"lm{mid:011x}", "timestamp": t.strftime("%Y-%m-%d %H:%M:%S")}).encode()


def _vonage(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    return json.dumps({"msisdn": "447700900000", "to": "Acme", "network-code": "23410",
                       "messageId": f"1A{mid:014X}", "price": "0.03330000", "status": word,
                       "scts": t.strftime("%y%m%d%H%M"), "err-code": code or "0", "api-key": "k",
                       "message-timestamp": t.strftime("%Y-%m-%d %H:%M:%S")}, separators=(",", ":")).encode()


def _smpp(mid: int, word: str, code: str | None, t: dt.datetime) -> bytes:
    stamp = t.strftime("%y%m%d%H%M")
    err = "000" if word in ("DELIVRD", "ENROUTE", "BUFFRED", "ACKED") else "001"
    return (f"id:{mid:010d} sub:001 dlvrd:000 submit date:{stamp} done date:{stamp} "
            f"stat:{word} err:{err} text:").encode()


FORMATS: dict[str, Callable[[int, str, str | None, dt.datetime], bytes]] = {
    "gatewayapi": _gatewayapi, "messente": _messente, "labsmobile": _labsmobile,
    "vonage": _vonage, "smpp": _smpp,
}


@dataclass(frozen=True, slots=True)
class Generated:
    provider: str
    payload: bytes


def receipts(messages: int, *, seed: int = 7, duplicate: float = 0.1, reorder: float = 0.1,
             providers: list[str] | None = None, first_id: int = 1) -> Iterator[Generated]:
    """Receipts for `messages` messages spread over the providers, interleaved
    the way a busy gateway sends them: a message's receipts in order but for
    `reorder` of them (final first), plus `duplicate` repeated receipts."""
    rnd = random.Random(seed)
    names = providers or list(FORMATS)
    window: list[list[Generated]] = []
    for n in range(messages):
        provider = names[n % len(names)]
        mid = first_id + n
        steps = LIFECYCLES[provider][rnd.randrange(4)]
        t = BASE + dt.timedelta(seconds=mid)
        out = []
        for i, step in enumerate(steps):
            word, _, code = step.partition(":")
            out.append(Generated(provider, FORMATS[provider](mid, word, code or None, t + dt.timedelta(minutes=i))))
        if rnd.random() < reorder:
            out[-1], out[-2] = out[-2], out[-1]
        if rnd.random() < duplicate:
            out.append(out[rnd.randrange(len(out))])
        window.append(out)
        if len(window) >= 8:  # interleave a few messages at a time
            yield from _drain(window, rnd)
    yield from _drain(window, rnd)


def _drain(window: list[list[Generated]], rnd: random.Random) -> Iterator[Generated]:
    while window:
        i = rnd.randrange(len(window))
        yield window[i].pop(0)
        if not window[i]:
            window.pop(i)
