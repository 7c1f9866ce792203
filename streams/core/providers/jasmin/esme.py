"""SMPP command_status codes (SMPP 3.4 section 5.1.3, table 5-2, and the SMPP
5.0 codes Jasmin added), by name and by value: what an SMSC answered a
submit_sm with. Jasmin's level-1 receipts carry the name
(`message_status=ESME_RINVDSTADR`), Kannel's SMSC rejects the value
(`NACK/0x0000000b/Invalid Destination Address`), so both read this table.

Source of the names, values and descriptions: jookies/smpp.pdu, the PDU
library Jasmin is built on, smpp/pdu/constants.py `command_status_value_map`
(github.com/jookies/smpp.pdu/blob/master/smpp/pdu/constants.py). The
category of each is ours, read from its description; retryable is the
category's default unless noted. Codes 0x400-0x4FF are reserved for the SMSC
vendor's own errors (SMPP 3.4 table 5-2): an unknown one there is the rule,
not news.
"""

from __future__ import annotations

from streams.core.model import ErrorCategory

_C = ErrorCategory

# name -> (value, category, retryable or None for the category's default); the
# comment is the description in smpp.pdu's constants. ESME_ROK (0) is no error.
CODES: dict[str, tuple[int, ErrorCategory, bool | None]] = {
    "ESME_RINVMSGLEN": (0x01, _C.INVALID_MESSAGE, None),  # Message Length is invalid
    "ESME_RINVCMDLEN": (0x02, _C.INVALID_MESSAGE, None),  # Command Length is invalid
    "ESME_RINVCMDID": (0x03, _C.GENERIC, None),  # Invalid Command ID
    "ESME_RINVBNDSTS": (0x04, _C.NETWORK, None),  # Invalid BIND Status for given command
    "ESME_RALYBND": (0x05, _C.GENERIC, None),  # ESME Already in Bound State
    "ESME_RINVPRTFLG": (0x06, _C.INVALID_MESSAGE, None),  # Invalid Priority Flag
    "ESME_RINVREGDLVFLG": (0x07, _C.INVALID_MESSAGE, None),  # Invalid Registered Delivery Flag
    "ESME_RSYSERR": (0x08, _C.NETWORK, None),  # System Error
    "ESME_RINVSRCADR": (0x0A, _C.SENDER_REJECTED, None),  # Invalid Source Address
    "ESME_RINVDSTADR": (0x0B, _C.INVALID_NUMBER, None),  # Invalid Dest Addr
    "ESME_RINVMSGID": (0x0C, _C.GENERIC, None),  # Message ID is invalid
    "ESME_RBINDFAIL": (0x0D, _C.NETWORK, None),  # Bind Failed
    "ESME_RINVPASWD": (0x0E, _C.GENERIC, None),  # Invalid Password
    "ESME_RINVSYSID": (0x0F, _C.GENERIC, None),  # Invalid System ID
    "ESME_RCANCELFAIL": (0x11, _C.GENERIC, None),  # Cancel SM Failed
    "ESME_RREPLACEFAIL": (0x13, _C.GENERIC, None),  # Replace SM Failed
    "ESME_RMSGQFUL": (0x14, _C.THROTTLED, None),  # Message Queue Full
    "ESME_RINVSERTYP": (0x15, _C.INVALID_MESSAGE, None),  # Invalid Service Type
    "ESME_RINVNUMDESTS": (0x33, _C.INVALID_MESSAGE, None),  # Invalid number of destinations
    "ESME_RINVDLNAME": (0x34, _C.INVALID_MESSAGE, None),  # Invalid Distribution List Name
    "ESME_RINVDESTFLAG": (0x40, _C.INVALID_MESSAGE, None),  # Destination flag is invalid (submit_multi)
    "ESME_RINVSUBREP": (0x42, _C.INVALID_MESSAGE, None),  # Invalid submit with replace request
    "ESME_RINVESMCLASS": (0x43, _C.INVALID_MESSAGE, None),  # Invalid esm_class field data
    "ESME_RCNTSUBDL": (0x44, _C.INVALID_MESSAGE, None),  # Cannot Submit to Distribution List
    "ESME_RSUBMITFAIL": (0x45, _C.GENERIC, None),  # submit_sm or submit_multi failed
    "ESME_RINVSRCTON": (0x48, _C.SENDER_REJECTED, None),  # Invalid Source address TON
    "ESME_RINVSRCNPI": (0x49, _C.SENDER_REJECTED, None),  # Invalid Source address NPI
    "ESME_RINVDSTTON": (0x50, _C.INVALID_NUMBER, None),  # Invalid Destination address TON
    "ESME_RINVDSTNPI": (0x51, _C.INVALID_NUMBER, None),  # Invalid Destination address NPI
    "ESME_RINVSYSTYP": (0x53, _C.GENERIC, None),  # Invalid system_type field
    "ESME_RINVREPFLAG": (0x54, _C.INVALID_MESSAGE, None),  # Invalid replace_if_present flag
    "ESME_RINVNUMMSGS": (0x55, _C.INVALID_MESSAGE, None),  # Invalid number of messages
    "ESME_RTHROTTLED": (0x58, _C.THROTTLED, None),  # Throttling error (ESME has exceeded allowed message limits)
    "ESME_RINVSCHED": (0x61, _C.INVALID_MESSAGE, None),  # Invalid Scheduled Delivery Time
    "ESME_RINVEXPIRY": (0x62, _C.INVALID_MESSAGE, None),  # Invalid message validity period (Expiry time)
    "ESME_RINVDFTMSGID": (0x63, _C.INVALID_MESSAGE, None),  # Predefined Message Invalid or Not Found
    "ESME_RX_T_APPN": (0x64, _C.NETWORK, None),  # ESME Receiver Temporary App Error Code
    "ESME_RX_P_APPN": (0x65, _C.GENERIC, None),  # ESME Receiver Permanent App Error Code
    "ESME_RX_R_APPN": (0x66, _C.GENERIC, None),  # ESME Receiver Reject Message Error Code
    "ESME_RQUERYFAIL": (0x67, _C.GENERIC, None),  # query_sm request failed
    "ESME_RINVOPTPARSTREAM": (0xC0, _C.INVALID_MESSAGE, None),  # Error in the optional part of the PDU Body
    "ESME_ROPTPARNOTALLWD": (0xC1, _C.INVALID_MESSAGE, None),  # Optional Parameter not allowed
    "ESME_RINVPARLEN": (0xC2, _C.INVALID_MESSAGE, None),  # Invalid Parameter Length
    "ESME_RMISSINGOPTPARAM": (0xC3, _C.INVALID_MESSAGE, None),  # Expected Optional Parameter missing
    "ESME_RINVOPTPARAMVAL": (0xC4, _C.INVALID_MESSAGE, None),  # Invalid Optional Parameter Value
    "ESME_RDELIVERYFAILURE": (0xFE, _C.GENERIC, None),  # Delivery Failure (used for data_sm_resp)
    "ESME_RUNKNOWNERR": (0xFF, _C.GENERIC, None),  # Unknown Error
    # SMPP 5.0 (smpp.pdu: "Jasmin update")
    "ESME_RSERTYPUNAUTH": (0x100, _C.GENERIC, None),  # ESME Not authorised to use specified service_type
    "ESME_RPROHIBITED": (0x101, _C.GENERIC, None),  # ESME Prohibited from using specified operation
    "ESME_RSERTYPUNAVAIL": (0x102, _C.NETWORK, None),  # Specified service_type is unavailable
    "ESME_RSERTYPDENIED": (0x103, _C.GENERIC, None),  # Specified service_type is denied
    "ESME_RINVDCS": (0x104, _C.INVALID_MESSAGE, None),  # Invalid Data Coding Scheme
    "ESME_RINVSRCADDRSUBUNIT": (0x105, _C.SENDER_REJECTED, None),  # Source Address Sub unit is Invalid
    "ESME_RINVDSTADDRSUBUNIT": (0x106, _C.INVALID_NUMBER, None),  # Destination Address Sub unit is Invalid
    "ESME_RINVBCASTFREQINT": (0x107, _C.INVALID_MESSAGE, None),  # Broadcast Frequency Interval is invalid
    "ESME_RINVBCASTALIAS_NAME": (0x108, _C.INVALID_MESSAGE, None),  # Broadcast Alias Name is invalid
    "ESME_RINVBCASTAREAFMT": (0x109, _C.INVALID_MESSAGE, None),  # Broadcast Area Format is invalid
    "ESME_RINVNUMBCAST_AREAS": (0x10A, _C.INVALID_MESSAGE, None),  # Number of Broadcast Areas is invalid
    "ESME_RINVBCASTCNTTYPE": (0x10B, _C.INVALID_MESSAGE, None),  # Broadcast Content Type is invalid
    "ESME_RINVBCASTMSGCLASS": (0x10C, _C.INVALID_MESSAGE, None),  # Broadcast Message Class is invalid
    "ESME_RBCASTFAIL": (0x10D, _C.GENERIC, None),  # broadcast_sm operation failed
    "ESME_RBCASTQUERYFAIL": (0x10E, _C.GENERIC, None),  # query_broadcast_sm operation failed
    "ESME_RBCASTCANCELFAIL": (0x10F, _C.GENERIC, None),  # cancel_broadcast_sm operation failed
    "ESME_RINVBCAST_REP": (0x110, _C.INVALID_MESSAGE, None),  # Number of Repeated Broadcasts is invalid
    "ESME_RINVBCASTSRVGRP": (0x111, _C.INVALID_MESSAGE, None),  # Broadcast Service Group is invalid
    "ESME_RINVBCASTCHANIND": (0x112, _C.INVALID_MESSAGE, None),  # Broadcast Channel Indicator is invalid
}

OK = "ESME_ROK"
VENDOR = range(0x400, 0x500)  # SMPP 3.4 table 5-2: "Reserved for SMSC vendor specific errors"


def hex_code(value: int) -> str:
    """A command_status as Kannel writes it ("0x%08lx", gw/smsc/smsc_smpp.c): "0x0000000b"."""
    return f"0x{value:08x}"


# The error tables `_wire.error` reads: by name (Jasmin), by value (Kannel).
BY_NAME: dict[str, tuple[ErrorCategory, bool | None]] = {
    name: (category, retryable) for name, (_, category, retryable) in CODES.items()
}
BY_VALUE: dict[str, tuple[ErrorCategory, bool | None]] = {
    hex_code(value): (category, retryable) for value, category, retryable in CODES.values()
}
