"""Jasmin SMS gateway (jookies/jasmin): the HTTP DLR its DLRThrower sends to the
`dlr-url` of a message sent through its HTTP API, a GET query or a POST form
(`dlr-method`), answered with exactly `ACK/Jasmin` (webhook.py).

Sources (github.com/jookies/jasmin, branch master):
- misc/doc/sources/apis/ja-http/receiving-dlr.rst: the fields of a level 1 DLR
  (`id`, `message_status`, `level`) and of a level 2 or 3 DLR (those and
  `id_smsc`, `subdate`, `donedate`, `sub`, `dlvrd`, `err`, `text`);
- jasmin/routing/throwers.py, DLRThrower.http_dlr_callback: what is really
  sent (also `connector`), and the answer it waits for;
- jasmin/managers/dlr.py: a level 1 DLR is thrown for the submit_sm_resp
  (`message_status` its ESME_* command_status), a level 2 DLR for each receipt
  the SMSC delivers (`message_status` the receipt's stat word); `level` says
  which (1 or 2), not the level asked for; the DLR map, hence any later
  callback, ends at a final word (`final_states`) or a failed submit;
- jasmin/managers/content.py, DLRContentForHttpapi: a level 2 word is one of
  SMPP 3.4 table B-2's seven, nothing else is thrown;
- jasmin/protocols/smpp/operations.py, isDeliveryReceipt: a receipt field the
  SMSC did not send is thrown as `ND`, read here as missing.

The message id is `id`: the UUID Jasmin's HTTP API answered the send with
(`Success "<id>"`), the same in the level 1 and level 2 callbacks of one
message, and what the sender keys its messages by. `id_smsc` (the SMSC's id,
level 2 only) is not read. Neither are `connector` (at level 2 Jasmin fills it
with the receipt's id, dlr.py), `sub`, `dlvrd` or `text` (the first 20
characters of the message).

Strict on `id` and `message_status` (a word neither table knows is an error,
never a guess); the rest is tolerated and named in the warnings: `level`
missing or at odds with the word (the word says which level it is: ESME_* is
a submit status, anything else a receipt word), `err` missing or `ND`, and
`donedate` missing or unreadable (the event time is then the received time).
A level 1 DLR carries no time at all: its event time is the received time.
"""

from __future__ import annotations

from streams.core.model import Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options
from streams.core.providers.jasmin import esme
from streams.core.providers.smpp import parse as smpp

NAME = "jasmin"

# Level 2: the SMSC's receipt word -> (status, final). The seven words of SMPP 3.4
# table B-2, the only ones DLRContentForHttpapi throws; the statuses are SMPP's
# (smpp/parse.py). final is Jasmin's own: dlr.py's final_states (DELIVRD, EXPIRED,
# DELETED, UNDELIV, REJECTD) end the message's DLR map; ACCEPTD keeps it open
# (Jasmin lost later DELIVRD receipts by closing on it, PR #613). UNKNOWN keeps
# it open too, but it is ranked with the outcomes (model.FINAL_RANK: final
# everywhere, as SMPP's "message is in invalid state"); a receipt that follows it
# still outranks it.
RECEIPT_WORDS: dict[str, tuple[Status, bool]] = {
    "DELIVRD": (Status.DELIVERED, True),
    "EXPIRED": (Status.EXPIRED, True),
    "DELETED": (Status.CANCELLED, True),
    "UNDELIV": (Status.UNDELIVERED, True),
    "ACCEPTD": (Status.ACCEPTED, False),
    "UNKNOWN": (Status.UNKNOWN, True),
    "REJECTD": (Status.REJECTED, True),
}

# Submit errors Jasmin resubmits by default (jasmin/managers/configs.py,
# [sm-listener] submit_error_retrial: ESME_RSYSERR, ESME_RTHROTTLED, ESME_RMSGQFUL,
# ESME_RINVSCHED). listeners.py throws the level 1 DLR of the failed attempt all
# the same and dlr.py drops the DLR map, so whatever the resubmission does is
# never reported: the message is held by Jasmin for another try, not refused.
RESUBMITTED = frozenset({"ESME_RSYSERR", "ESME_RTHROTTLED", "ESME_RMSGQFUL", "ESME_RINVSCHED"})

# Level 1: the submit_sm_resp's command_status name -> (status, final). ESME_ROK:
# the SMSC took the message (SENT, as Messente's ACK); a default-resubmitted
# error: QUEUED, not final; any other: the SMSC refused it, final (no receipt can
# follow: dlr.py drops the map). Names: esme.py (jookies/smpp.pdu). A deployment
# that changed submit_error_retrial maps those words in DLR_MAPPINGS (jasmin.statuses).
SUBMIT_WORDS: dict[str, tuple[Status, bool]] = {
    esme.OK: (Status.SENT, False),
    **{name: (Status.QUEUED, False) if name in RESUBMITTED else (Status.REJECTED, True) for name in esme.CODES},
}

_SUBMIT_PREFIX = "ESME_"
_NO_DATA = "ND"  # operations.py: a receipt field the SMSC did not send
_LEVELS = frozenset({"1", "2", "3"})


def parse(payload: bytes, options: Options) -> Receipt:
    fields = _wire.query(_wire.text(payload))
    warnings: list[str] = []
    message_id = _word(fields, "id")
    word = _word(fields, "message_status").upper()
    submit = word.startswith(_SUBMIT_PREFIX)
    status, final = _wire.status(options, NAME, SUBMIT_WORDS if submit else RECEIPT_WORDS, word)
    _check_level(fields, submit, word, warnings)
    if submit:
        # The submit's command_status is the error; esme.py has every name SMPP defines.
        code, category, retryable = _wire.error(options, NAME, esme.BY_NAME, None if word == esme.OK else word,
                                                warnings, "message_status")
        if options.received_at is None:
            raise ReceiptError("no time in a level 1 DLR and no received time")
        event_time, raw_time = options.received_at, None  # the callback follows the submit_sm_resp at once
    else:
        err = _get(fields, "err")
        # err is the SMSC's own (receiving-dlr.rst: "a Network specific error code or an
        # SMSC error code"): kept for the record, categorised only by DLR_MAPPINGS.
        code, category, retryable = _wire.error(
            options, NAME, {}, None if err is None or not err.strip("0") else err, None)
        event_time, raw_time = _event_time(fields, options, warnings)
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=word,
        event_time=event_time,
        error_code=code,
        error_category=category,
        retryable=retryable,
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _get(fields: dict[str, str], name: str) -> str | None:
    """A field, stripped; None when missing, blank or `ND`."""
    value = fields.get(name)
    if value is None:
        return None
    value = value.strip()
    return None if not value or value == _NO_DATA else value


def _word(fields: dict[str, str], name: str) -> str:
    """A field that decides the outcome: present, one word."""
    value = _get(fields, name)
    if value is None:
        raise ReceiptError(f"missing field {name!r}")
    if (" " in value or not value.isprintable()) and len(value.split()) > 1:
        raise ReceiptError(f"field {name!r} is not one word: {_wire.clip(value, 40)!r}")
    return value


def _check_level(fields: dict[str, str], submit: bool, word: str, warnings: list[str]) -> None:
    """`level` is 1 for a submit status and 2 for a receipt word (dlr.py; 3, the level
    asked for, in older releases): the word decides, a level at odds is noted."""
    level = _get(fields, "level")
    if level is None:
        warnings.append("level: missing; the word says which")
    elif level not in _LEVELS:
        warnings.append(f"level: unknown {_wire.quoted(level)}, ignored")
    elif (level == "1") != submit:
        said = "a submit status (level 1)" if submit else "a receipt word (level 2)"
        warnings.append(f"level: {_wire.quoted(level)} but {word} is {said}; read as the word says")


def _event_time(fields: dict[str, str], options: Options, warnings: list[str]) -> tuple[int, str | None]:
    """`donedate` (receiving-dlr.rst: YYMMDDhhmm, "when the short message reached its
    final state"; any SMPP date form is read) in the zone configured for jasmin, read
    as SMPP's done date is (smpp.event_time), `subdate` settling an ambiguous one;
    else the received time."""
    found: dict[str, str] = {}
    for name, smpp_name in (("donedate", "done date"), ("subdate", "submit date")):
        value = _get(fields, name)
        if value is not None:
            found[smpp_name] = value
    noted: list[str] = []
    when = smpp.event_time(found, options, NAME, noted)
    warnings.extend(f"donedate:{note[10:]}" if note.startswith("done date:") else note for note in noted)
    return when
