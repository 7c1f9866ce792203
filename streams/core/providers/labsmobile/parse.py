"""LabsMobile ack callbacks: an HTTP GET to the `ackurl` of the request or of the account,
with `acklevel, msisdn, status, desc, subid, timestamp` (LabsMobile support article
77000494752, labsmobile.freshdesk.com/en/support/solutions/articles/77000494752).
`subid` is the id LabsMobile returned at send: the message id.

What the values are. LabsMobile's own reference (apidocs.labsmobile.com, section
Callbacks) could not be read here; only its navigation was. Two vocabularies are
therefore accepted, each word from a table that names its source, and nothing else:

- `status` is a state of article 77000492543 ("Statuses of an SMS message",
  support.labsmobile.com), LabsMobile's list of message states ("Processed",
  "Sent", "Not sent", "Rejected or Undeliverable", "Expired", "Approved", "Delivered"),
  in any case. `desc` then matters only for "Not sent", where it is the reason (the
  article's six); for every other state it is a description and is not read.
- `status` is "ok" or "ko", the form that public LabsMobile ack handlers receive
  (see _OBSERVED below). Then `desc`, when present, says what happened: an SMPP stat
  word (DELIVRD, UNDELIV, ...), a state of article 77000492543, or a "Not sent" reason. Without
  `desc`, "ok" is read through `acklevel`, the level that confirmed the message:
  gateway, operator or handset. "ko" without `desc` says that something failed but
  not what (discarded? rejected? expired?), so it is a ReceiptError, not a guess.
  "ok" with a failure, or "ko" with a success, contradicts itself: ReceiptError.

`acklevel` is otherwise an echo of the level the sender asked for (article 77000494752
says it is set per request), so with a state of article 77000492543 it is checked to be a
known level and not read further.

`timestamp` is "YYYY-MM-DD HH:MM:SS" with no zone (_OBSERVED); LabsMobile accounts
carry a time-zone preference (article 77000492570), so a zone-less time is read in
`options.zone("labsmobile")`. A time with an offset keeps it. The msisdn is never read.

_OBSERVED: three public LabsMobile ack handlers, none of them LabsMobile's: Equidna
BirdFlock's LabsmobileWebhookController (PHP, with a test sending
`acklevel=handset&status=ok&desc=&timestamp=2026-06-15 16:30:00`), a FastAPI module
"LabsMobile callback formats (verified Feb 2026)" (`acklevel=handset&status=ok&
desc=DELIVRD&timestamp=2026-02-26%2012:00:00`; acklevel operator|handset|error; desc
DELIVRD|REJECTD|UNDELIV|EXPIRED|BLOCKED|UNKNOWN) and a Laravel LabsMobileWebhookController
(status ok|ko, acklevel gateway|operator|handset|error).
"""

from __future__ import annotations

import re

from streams.core.model import ErrorCategory, Receipt, ReceiptError, Status
from streams.core.providers import _wire
from streams.core.providers._wire import Options

NAME = "labsmobile"

# State words, compared case-folded with runs of blanks made one space.
STATES: dict[str, tuple[Status, bool]] = {
    # Article 77000492543, LabsMobile's own list of states.
    # "received and processed by the LabsMobile platform ... an intermediate state that
    # all sent messages go through": LabsMobile holds it, not yet handed to an
    # operator. QUEUED says that; PENDING would say less than the receipt proves.
    "processed": (Status.QUEUED, False),
    # "sent to the GSM network ... waiting for a delivery confirmation or error".
    "sent": (Status.SENT, False),
    # "discarded ... not communicated to the telephone operators ... does not generate
    # any cost": a rule of LabsMobile's chose not to send it, whatever the reason.
    "not sent": (Status.SKIPPED, True),
    # "the message has generated a delivery error and has been rejected by the local
    # operator": a delivery was attempted and failed, so UNDELIVERED, not REJECTED
    # ("refused before any delivery attempt"). LabsMobile's FAQ (labsmobile.com/ca/faqs/
    # historic-i-estat-dels-missatges) names the two apart; article 77000492543 makes them one.
    "rejected or undeliverable": (Status.UNDELIVERED, True),
    "rejected": (Status.UNDELIVERED, True),
    "undeliverable": (Status.UNDELIVERED, True),
    "expired": (Status.EXPIRED, True),
    # "The approval makes this telephony operator responsible for the delivery. In
    # countries where it is not possible to obtain a delivery confirmation this status
    # is equivalent to Delivered." Elsewhere a Delivered follows, and the receipt does
    # not say which country it is in: not final, or a later Delivered would be lost.
    "approved": (Status.ACCEPTED, False),
    "delivered": (Status.DELIVERED, True),
    # `desc` words of the "ok"/"ko" form (_OBSERVED), SMPP stat names. REJECTD reads as
    # article 77000492543's "Rejected", UNDELIV as its "Undeliverable".
    "delivrd": (Status.DELIVERED, True),
    "undeliv": (Status.UNDELIVERED, True),
    "rejectd": (Status.UNDELIVERED, True),
    "unknown": (Status.UNKNOWN, True),
}

# Failure states other than "Not sent". Article 77000492543: Rejected or Undeliverable is "usually
# an incorrect or inactive mobile number. But there may be other explanations such as
# filters, incidents": no one category fits, hence GENERIC (not retryable). Expired:
# "the destination number has not been operational during the delivery period".
FAILURES: dict[str, tuple[ErrorCategory, bool | None]] = {
    "rejected or undeliverable": (ErrorCategory.GENERIC, None),
    "rejected": (ErrorCategory.GENERIC, None),
    "undeliverable": (ErrorCategory.GENERIC, None),
    "rejectd": (ErrorCategory.GENERIC, None),
    "undeliv": (ErrorCategory.GENERIC, None),
    "expired": (ErrorCategory.EXPIRED, None),
    "unknown": (ErrorCategory.GENERIC, None),
}

# The reasons of "Not sent". Source: article 77000492543.
NOT_SENT_REASONS: dict[str, tuple[ErrorCategory, bool | None]] = {
    # "the same text [to the same recipient] for 60 minutes": passes with time.
    "duplicate": (ErrorCategory.THROTTLED, None),
    "test": (ErrorCategory.TEST, None),
    "blacklist": (ErrorCategory.BLACKLISTED, None),
    # "does not have a correct mobile number format according to the destination
    # country": LabsMobile's own check, filed under Not sent, so SKIPPED like the rest.
    "incorrect format": (ErrorCategory.INVALID_NUMBER, None),
    # "the message type is not allowed by ... the operator or destination country".
    "functionality not permitted": (ErrorCategory.ROUTING, None),
    # "not allowed by the account's country filter or by the requirements of the carriers".
    "destination not permitted": (ErrorCategory.ROUTING, None),
}

# What an "ok" without `desc` proves, by `acklevel` (_OBSERVED names the levels; the
# state each proves is article 77000492543's description of it). gateway: LabsMobile passed
# it on, its "Sent"; operator: "the destination operator confirms the reception", its
# "Approved"; handset: "confirmed as delivered by the target device", its "Delivered".
# error: the level of a failure, never of an "ok".
ACK_LEVELS: dict[str, str | None] = {
    "gateway": "sent",
    "operator": "approved",
    "handset": "delivered",
    "error": None,
}

_LOCAL_TIME = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")
_HAS_OFFSET = re.compile(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")
# A match is at most 6 characters and a newline before the end: searching only
# the tail finds the same ones, without trying the pattern at every position.
_OFFSET_TAIL = 7


# Words public handlers list that no LabsMobile document defines: refused
# with the reason, never guessed. A deployment that knows what its account
# sends maps them in DLR_MAPPINGS (labsmobile.statuses).
UNDEFINED: dict[str, str] = {
    # desc BLOCKED (_OBSERVED's FastAPI module): blocked by the operator (a
    # rejection) or by LabsMobile's own rules (its "Not sent")? No source says.
    "blocked": "names no state of article 77000492543: blocked by the operator or by LabsMobile is not said",
    # READ: article 77000492543 lists no read state for SMS, and no public
    # handler says what LabsMobile means by it.
    "read": "names no state of article 77000492543 for SMS",
}

# Canonical statuses that say the message failed: what a "ko" must report.
_FAILED = frozenset({Status.SKIPPED, Status.UNDELIVERED, Status.REJECTED, Status.EXPIRED, Status.UNKNOWN,
                     Status.CANCELLED})


def parse(payload: bytes, options: Options) -> Receipt:
    fields = _wire.query(_wire.text(payload))
    warnings: list[str] = []
    message_id = _wire.field_text(fields, "subid")
    status_text = _wire.field_text(fields, "status")
    assert message_id is not None and status_text is not None
    desc = _wire.field_text(fields, "desc", required=False)
    level = _wire.field_text(fields, "acklevel", required=False)
    verdict = _fold(status_text)
    if verdict in ("ok", "ko"):
        word, reason, decided_by = _ok_ko(verdict, desc, level)
    else:
        word, reason = _state(verdict)
        decided_by = None
        if word == "not sent" and reason is None and desc is not None:
            reason = _fold(desc)
    if level is not None and level != decided_by and _fold(level) not in ACK_LEVELS:  # an echo of the request's
        warnings.append(f"acklevel: unknown {_wire.quoted(level)}, ignored")
    status, final = _status(options, word, status_text if decided_by is None else decided_by)
    if decided_by is not None and decided_by == desc and (verdict == "ko") != (status in _FAILED):
        raise ReceiptError(f"{NAME} status {verdict!r} contradicts desc {desc!r}")

    if status is Status.SKIPPED:
        # Article 77000492543 says the reason "may be" one of six: none given is still Not sent.
        code, category, retryable = _wire.error(options, NAME, NOT_SENT_REASONS, reason, warnings, "'Not sent' reason")
    elif word in FAILURES:
        code, category, retryable = _wire.error(options, NAME, FAILURES, word, warnings)
    else:
        code, category, retryable = None, None, None
    event_time, raw_time = _wire.event_time(
        ("timestamp", _wire.field_text(fields, "timestamp", required=False), lambda raw: _event_time(raw, options)),
        (), options, warnings,
    )
    return Receipt(
        provider=NAME,
        message_id=message_id,
        status=status,
        final=final,
        provider_status=status_text if decided_by is None else f"{status_text}/{decided_by}",
        event_time=event_time,
        error_code=code,
        error_category=category,
        retryable=retryable,
        raw_time=raw_time,
        warnings=tuple(warnings),
    )


def _status(options: Options, word: str, said: str) -> tuple[Status, bool]:
    """(status, final) of a state word: the deployment's mapping, the table,
    or a ReceiptError naming what was said."""
    try:
        return _wire.status(options, NAME, STATES, word)
    except ReceiptError:
        why = UNDEFINED.get(word)
        if why is not None:
            raise ReceiptError(f"{NAME} {said!r} {why}; map it in DLR_MAPPINGS if your account's meaning is known"
                               ) from None
        raise ReceiptError(f"unknown {NAME} status {said!r}") from None


def _ok_ko(verdict: str, desc: str | None, level: str | None) -> tuple[str, str | None, str]:
    """(state word, Not sent reason, the provider text that decided) of an ok/ko ack."""
    if desc is None:
        if verdict == "ko":
            raise ReceiptError(f"{NAME} status 'ko' without desc: the failure is not named")
        if level is None:
            raise ReceiptError("missing field 'acklevel'")
        if _fold(level) not in ACK_LEVELS:
            raise ReceiptError(f"unknown {NAME} acklevel {level!r}")
        word = ACK_LEVELS[_fold(level)]
        if word is None:
            raise ReceiptError(f"{NAME} status 'ok' with acklevel {level!r}")
        return word, None, level
    word, reason = _state(_fold(desc))
    return word, reason, desc


def _state(said: str) -> tuple[str, str | None]:
    """(state word, Not sent reason) of a folded text that names a state or a reason:
    LabsMobile's FAQ (labsmobile.com/ca/faqs/historic-i-estat-dels-missatges) lists
    Duplicate among the states, where article 77000492543 files it under Not sent."""
    if said in NOT_SENT_REASONS:
        return "not sent", said
    return said, None


def _fold(word: str) -> str:
    # Article 77000492543's names are matched case-insensitively; "Not  sent" is "not sent".
    return " ".join(word.split()).casefold()


def _event_time(raw: str, options: Options) -> int:
    """`timestamp`: zone-less in the account's zone, or with its own offset."""
    if _HAS_OFFSET.search(raw, max(len(raw) - _OFFSET_TAIL, 0)):
        return _wire.iso_time(raw, options.zone(NAME))
    return _wire.local_time(raw, _LOCAL_TIME, options.zone(NAME))
