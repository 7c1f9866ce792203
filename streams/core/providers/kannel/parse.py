"""Kannel (kannel.org): the `dlr-url` callback. Kannel fills a URL template the
operator writes with escape codes and fetches it with GET once per delivery
report (Kannel user guide, "Delivery Reports" and "Parameters (Escape Codes)").
The template this parser reads (webhook.py says where it goes):

    /dlr/kannel?type=%d&reply=%A&fid=%F&id=%I&to=%p&ts=%T&smsc=%i[&ref=<your id>]

- `type` (%d), the report's type, decides the outcome: a bit of the dlr-mask
  (1 delivered to the phone, 2 not delivered to the phone, 4 queued on the
  SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC), or newer Kannel's
  34 and 66 (see TYPES).
- `reply` (%A), "the delivery report SMSC reply, if any": for an SMPP SMSC the
  receipt text of the deliver_sm (types 1, 2, 4, 34, 66), read with SMPP's
  reader (smpp/parse.py): its stat word tells the failures of type 2 apart
  (EXPIRED, REJECTD, ...), its err is the error code, its done date the event
  time. For type 8 Kannel writes `ACK/`, for type 16 `NACK/` and the reason,
  `NACK/0x0000000b/Invalid Destination Address` from an SMPP SMSC, whose
  command_status is the error code (jasmin/esme.py has them all).
- `fid` (%F), the SMSC's message id ("foreign" id), and `smsc` (%i), the
  smsc-id of the connection: together the message id, `<smsc>/<fid>`. Kannel
  itself matches receipts by both (gw/dlr.c dlr_find(smsc, ts, ...)): a
  foreign id is unique only within one SMSC, and two SMSCs' counters collide.
- `id` (%I), "the SMS ID of the internal message structure": Kannel makes a
  new one for every report (gw/dlr.c: dlr_find and create_dlr_from_msg each
  msg_create the report, which draws a fresh UUID), so it keys no message.
  It keys a report without a foreign id, `I:<id>`: an SMSC reject (16) has
  none, since the SMSC never gave one, and neither has an SMSC ack (8) when no
  handset report was asked for (gw/smsc/smsc_smpp.c calls dlr_add, which sets
  the foreign id, only then). Such a report is the whole life of its message
  that Kannel will ever report, so a key of its own loses nothing, and
  refusing it would dead-letter a plain rejection. A retried fetch repeats
  the URL, hence the key.
- `ts` (%T), when Kannel made the report (gw/dlr.c: time(&msg->sms.time)), unix
  seconds: the event time when the reply holds no done date, and the fallback
  when it is unreadable.
- `ref`: not an escape code. The user guide's advice is to put your own
  message id in each message's dlr-url ("you can then use this ID to update
  your database"), since Kannel's sendsms answers without one; if you do, as
  `ref=`, it is kept as the receipt's reference.
- `to` (%p, the phone number) is never read or kept.

Strict on `type` (a type neither TYPES nor DLR_MAPPINGS knows is an error,
never a guess) and on the message id; tolerant on the rest, each noted in the
warnings: a reply that is no receipt text, a stat word that is unknown or not
of the report's type (the type decides), an unreadable NACK reason, a done
date or `ts` missing or unreadable (done date, then `ts`, then the received
time).

Sources: Kannel user guide 1.4.x (kannel.org/download/1.4.5/userguide-1.4.5/
userguide.html: dlr-mask, the escape codes, the Delivery Reports chapter and
its `status=%d&answer=%A` example); Kannel's source, svn trunk of 2014 as mirrored
at github.com/pruiz/kannel (gw/dlr.h, gw/dlr.c, gw/bb_smscconn.c for "ACK/" and
"NACK/", gw/smsc/smsc_smpp.c handle_dlr for which stat word gives which type,
gw/urltrans.c for the escapes) and Kannel 1.6.1's gw/dlr.h for 34 and 66
(github.com/vaska94/kannel, commit 45cbf0e, "Kannel SMS Gateway v1.6.1").
"""

from __future__ import annotations

import re

from streams.core.model import Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options
from streams.core.providers.jasmin import esme
from streams.core.providers.smpp import dates
from streams.core.providers.smpp import parse as smpp

NAME = "kannel"

# %d -> (status, final). Kannel writes the report's type as the decimal of its
# dlr-mask bits (gw/urltrans.c 'd'). Names and meanings: gw/dlr.h and the user
# guide's dlr-mask ("1: Delivered to phone, 2: Non-Delivered to Phone, 4: Queued
# on SMSC, 8: Delivered to SMSC, 16: Non-Delivered to SMSC"). final: gw/dlr.h
# DLR_IS_NOT_FINAL is BUFFERED | SMSC_SUCCESS, so 4 and 8 are not, the rest are.
TYPES: dict[str, tuple[Status, bool]] = {
    "1": (Status.DELIVERED, True),  # DLR_SUCCESS
    # DLR_FAIL: every stat word but DELIVRD and the in-transit ones (smsc_smpp.c
    # handle_dlr); the reply's stat word says which failure (REFINES).
    "2": (Status.UNDELIVERED, True),
    # DLR_BUFFERED: ENROUTE, ACCEPTD, ACKED, BUFFRED, BUFFERD (handle_dlr), or the
    # message_state ENROUTE, ACCEPTED or (SMPP 5.0) SCHEDULED: held at the SMSC.
    "4": (Status.QUEUED, False),
    # DLR_SMSC_SUCCESS: the SMSC took the submit (its submit_sm_resp), reply "ACK/"
    # (bb_smscconn.c bb_smscconn_sent): SENT, as Messente's ACK.
    "8": (Status.SENT, False),
    # DLR_SMSC_FAIL: the SMSC refused the submit, or Kannel gave up on it, reply
    # "NACK/<reason>" (bb_smscconn.c bb_smscconn_send_failed); a temporary
    # refusal is requeued by Kannel without a report, so this one is final.
    "16": (Status.REJECTED, True),
    # Newer Kannel (gw/dlr.h of 1.6.1, its header dating the change 2016): DLR_EXPIRED
    # is 0x20|DLR_FAIL and DLR_UNKNOWN 0x40|DLR_FAIL, both failures; smsc_smpp.c sends
    # 34 for message_state EXPIRED, http/clickatell.c 34 and 66.
    # A bare 32 was Kannel 1.4's DLR_INTERMEDIATE, which no 1.4 driver sends: not
    # in the table (which Kannel sent it cannot be told), DLR_MAPPINGS can add it.
    "34": (Status.EXPIRED, True),
    "66": (Status.UNKNOWN, True),
}

# The statuses a reply's stat word may make a type more precise with: those of the
# words handle_dlr gives that type (and the message_states it maps to it). A word
# outside them is noted and the type's status kept: the type is Kannel's word.
_FAILED = frozenset({Status.EXPIRED, Status.CANCELLED, Status.UNDELIVERED, Status.UNKNOWN, Status.REJECTED,
                     Status.SKIPPED})
REFINES: dict[str, frozenset[Status]] = {
    "1": frozenset({Status.DELIVERED}),
    "2": _FAILED,
    "4": frozenset({Status.QUEUED, Status.SENT, Status.ACCEPTED, Status.SCHEDULED}),
    "34": frozenset({Status.EXPIRED}),
    "66": frozenset({Status.UNKNOWN}),
}

# Types whose report may come without a foreign id (see the module docstring).
_NO_FOREIGN_ID = frozenset({"8", "16"})
_ACK, _NACK = "ACK/", "NACK/"
# "NACK/0x%08lx/%s": smsc_smpp.c, a submit_sm_resp with an error command_status.
_NACK_CODE = re.compile(r"NACK/(0[xX][0-9a-fA-F]{8})(?:/.*)?", re.DOTALL)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse(payload: bytes, options: Options) -> Receipt:
    fields = _wire.query(_wire.text(payload))
    warnings: list[str] = []
    kind = _word(fields, "type")
    status, final = _wire.status(options, NAME, TYPES, kind)
    message_id = _message_id(fields, kind)
    reply = _get(fields, "reply")
    found: dict[str, str] | None = None
    code: str | None = None
    table = esme.BY_VALUE
    notes: list[str] | None = None
    if reply is not None:
        if kind == "16":
            code, notes = _nack(reply, warnings)
        elif kind == "8":
            if not reply.startswith(_ACK):
                warnings.append(f"reply: not Kannel's {_ACK!r} {_wire.quoted(reply)}, ignored")
        else:
            found = _receipt_text(reply, warnings)
    provider_status = kind
    if found is not None:
        word = found["stat"].upper()
        provider_status = f"{kind}/{word}"
        status, final = _refine(options, kind, word, status, final, warnings)
        err = found.get("err")
        # err is the SMSC's own (SMPP 3.4 Appendix B): kept, categorised only by DLR_MAPPINGS.
        code, table = (None if err is None or not err.strip("0") else err), {}
    error_code, category, retryable = _wire.error(options, NAME, table, code, notes)
    ts = _get(fields, "ts")
    if found is None:
        event_time, raw_time = _wire.event_time(("ts", ts, _wire.unix_seconds), (), options, warnings)
    else:
        event_time, raw_time = _receipt_time(found, ts, options, warnings)
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=provider_status,
        event_time=event_time,
        error_code=error_code,
        error_category=category,
        retryable=retryable,
        reference=_get(fields, "ref"),
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _get(fields: dict[str, str], name: str) -> str | None:
    """A query field, stripped; None when missing or blank (Kannel leaves an
    escape with no value empty: %F of a reject)."""
    value = fields.get(name)
    if value is None:
        return None
    return value.strip() or None


def _word(fields: dict[str, str], name: str) -> str:
    """A field that decides the outcome or the key: present, one word."""
    value = _get(fields, name)
    if value is None:
        raise ReceiptError(f"missing field {name!r}")
    return _one_word(name, value)


def _one_word(name: str, value: str) -> str:
    if (" " in value or not value.isprintable()) and len(value.split()) > 1:
        raise ReceiptError(f"field {name!r} is not one word: {_wire.clip(value, 40)!r}")
    return value


def _message_id(fields: dict[str, str], kind: str) -> str:
    """`<smsc>/<fid>`, or `I:<Kannel's id>` for an ack or reject without a foreign id."""
    fid = _get(fields, "fid")
    if fid is not None:
        smsc = _get(fields, "smsc")
        if smsc is None:
            raise ReceiptError("missing field 'smsc': a foreign id is unique only per SMSC (dlr-url: smsc=%i)")
        return f"{smsc}/{_one_word('fid', fid)}"
    if kind not in _NO_FOREIGN_ID:
        raise ReceiptError(f"missing field 'fid': a type {kind} report always has one (dlr-url: fid=%F)")
    kannel_id = _get(fields, "id")
    if kannel_id is None:
        raise ReceiptError(f"type {kind} without fid or id: nothing to key it by (dlr-url: fid=%F&id=%I)")
    if not _UUID.fullmatch(kannel_id):
        raise ReceiptError(f"field 'id' is not Kannel's id (a UUID): {_wire.clip(kannel_id, 40)!r}")
    return f"I:{kannel_id.lower()}"


def _nack(reply: str, warnings: list[str]) -> tuple[str | None, list[str] | None]:
    """(error code, where an unknown one is noted) of a reject's reply: the SMPP
    command_status in `NACK/0x0000000b/...`, as Kannel writes it. Vendor codes
    (0x400-0x4FF) are nobody's table, so an unknown one there is not noted."""
    match = _NACK_CODE.fullmatch(reply)
    if match is None:
        if reply != _NACK:  # Kannel's own reasons ("NACK/Retries Exceeded"), another SMSC's text
            warnings.append(f"reply: no SMPP command_status in {_wire.quoted(reply)}, no error code")
        return None, None
    value = int(match.group(1), 16)
    return esme.hex_code(value), None if value in esme.VENDOR else warnings


def _receipt_text(reply: str, warnings: list[str]) -> dict[str, str] | None:
    """The reply's SMPP receipt text fields, or None (noted) when it holds none:
    another SMSC type's reply, or text SMPP's reader refuses."""
    noted: list[str] = []
    try:
        found = smpp.fields(reply, noted)
    except ReceiptError as exc:
        warnings.append(f"reply: not SMPP receipt text ({exc}) {_wire.quoted(reply)}, ignored")
        return None
    warnings.extend(noted)
    return found


def _refine(options: Options, kind: str, word: str, status: Status, final: bool, warnings: list[str]
            ) -> tuple[Status, bool]:
    """The status of the reply's stat word when it is one the type allows (type 2's
    EXPIRED, REJECTD, ...); the type's, noted, when the word is unknown or not of
    the type. The word is looked up in the deployment's kannel mappings, then SMPP's table."""
    allowed = REFINES.get(kind)
    if allowed is None:
        return status, final
    try:
        said = _wire.status(options, NAME, smpp.STATUSES, word)
    except ReceiptError:
        warnings.append(f"stat: unknown {_wire.quoted(word)}; status from type {kind}")
        return status, final
    if said[0] not in allowed:
        warnings.append(f"stat: {_wire.quoted(word)} is {said[0].value}, not a type {kind} status; "
                        f"status from type {kind}")
        return status, final
    return said


def _receipt_time(found: dict[str, str], ts: str | None, options: Options, warnings: list[str]
                  ) -> tuple[int, str | None]:
    """The receipt text's done date, read as SMPP's (smpp.event_time), in the zone
    configured for kannel; then `ts`; then the received time."""
    noted: list[str] = []
    try:
        when, raw = smpp.event_time(found, options, NAME, noted)
    except ReceiptError:  # no readable done date, and no received time
        if ts is None:
            raise
    else:
        if raw is not None or ts is None:
            warnings.extend(noted)
            return when, raw
    # The done date is missing or unreadable: `ts` comes before the received time.
    zone = options.zone(NAME)
    return _wire.event_time(("done date", found.get("done date"), lambda value: dates.read(value, zone).when),
                            (("ts", ts, _wire.unix_seconds),), options, warnings)
