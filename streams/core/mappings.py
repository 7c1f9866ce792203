"""Per-deployment mapping overrides (`DLR_MAPPINGS`): status words and error
codes a provider's own tables do not know, or that one deployment reads
otherwise, added without a release.

A `Mappings` is plain data, consulted by the parsers (through
`providers._wire.status` and `providers._wire.error`) before the provider's
own tables, so the same file gives the same receipts offline
(`dlr normalize --mappings`), in the worker and in a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.core.model import ErrorCategory, Status


@dataclass(frozen=True, slots=True)
class Mappings:
    """Per provider: `statuses` maps a status word, compared case-folded, to
    (canonical status, final); `errors` maps an error code, as the receipt
    writes it, to (category, retryable), a None retryable meaning the
    category's default."""

    statuses: Mapping[str, Mapping[str, tuple[Status, bool]]] = field(default_factory=dict)
    errors: Mapping[str, Mapping[str, tuple[ErrorCategory, bool | None]]] = field(default_factory=dict)
