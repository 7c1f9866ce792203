"""Settings: every one has a name, an environment variable, a default and help."""

from __future__ import annotations

import os
import time
import zoneinfo

from streams.model import parse_iso
from streams.providers import Options


def provider_zones() -> dict[str, zoneinfo.ZoneInfo]:
    """DLR_PROVIDER_ZONES="smpp=Europe/Tallinn,vonage=UTC": the zone each
    provider's zone-less times are in; a provider not named is read as UTC."""
    zones = {}
    for item in filter(None, os.environ.get("DLR_PROVIDER_ZONES", "").split(",")):
        provider, _, zone = item.partition("=")
        zones[provider.strip()] = zoneinfo.ZoneInfo(zone.strip())
    return zones


def parse_options(received_at: str | None = None) -> Options:
    when = parse_iso(received_at) if received_at else time.time_ns() // 1000
    return Options(zones=dict(provider_zones()), received_at=when)
