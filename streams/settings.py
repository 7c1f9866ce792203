"""Settings: each has a name, an environment variable, a default and a line of
help. Command-line flags override the environment, which overrides defaults."""

from __future__ import annotations

import os
import re
import time
import zoneinfo
from dataclasses import dataclass
from typing import Any

from streams.core import mappings as mapping_file
from streams.core.model import parse_iso
from streams.core.providers import PROVIDERS, Options


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "DLR_" + self.name.upper()

    def value(self) -> str:
        return os.environ.get(self.env, self.default)


_ROWS = [
    Setting("broker", "127.0.0.1:19092",
            "Kafka bootstrap servers host:port[,host:port]; the default is where `dlr broker` listens"),
    Setting("broker_port", "19092", "Port `dlr broker` listens on by default"),
    Setting("partitions", "4", "Partitions of every dlr-streams topic (receipts and state must agree)"),
    Setting("processing_guarantee", "at_least_once",
            "at_least_once (deterministic ids, consumers drop repeats) or exactly_once (needs transactions)"),
    Setting("store", "rocksdb://", "State store: rocksdb:// (on disk, default) or memory://"),
    Setting("data_dir", ".dlr", "Where a worker keeps its state store and the embedded broker its data"),
    Setting("web_host", "127.0.0.1", "Address the worker's HTTP server binds (webhooks, /health, /metrics)"),
    Setting("web_port", "6066", "Port of the worker's HTTP server"),
    Setting("max_body_bytes", "65536", "Largest webhook body accepted; a bigger one is refused with 413"),
    Setting("webhook_timeout", "4",
            "Seconds a webhook waits for Kafka to acknowledge a receipt before answering 503 (provider retries)"),
    Setting("public_url", "",
            "Base URL the providers call this worker at, e.g. https://dlr.example.com: with the request's path and "
            "query, the URL Twilio's signature covers; empty: not known, and while DLR_SECRET_TWILIO is set "
            "Twilio's callbacks are refused"),
    # Each provider's own (its webhook secret and what its check reads), from its record.
    *(Setting(d.name, d.default, d.help, d.secret) for p in PROVIDERS.values() for d in p.webhook.declared),
    Setting("state_version", "1",
            "Version of the state table; `dlr rebuild` folds from scratch into a new version"),
    Setting("session_timeout", "30",
            "Seconds before the group gives a silent worker's partitions to the others (after a crash)"),
    Setting("log_level", "info", "Worker log level: crit, error, warn, info or debug"),
    Setting("log_format", "text", "Worker log format: text, or json (one JSON object per line: time, level, "
            "logger, message, worker)"),
    Setting("provider_zones", "",
            "Zones of providers' zone-less times, e.g. smpp=Europe/Tallinn,vonage=UTC; unnamed: UTC"),
    Setting("mappings", "",
            "TOML file of this deployment's status words and error codes per provider, read before the "
            "providers' tables (docs/operators.md); checked at start; empty: none"),
    Setting("security_protocol", "", "Kafka security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    Setting("sasl_mechanism", "", "Kafka sasl.mechanism, e.g. PLAIN, SCRAM-SHA-256"),
    Setting("sasl_username", "", "Kafka SASL user name"),
    Setting("sasl_password", "", "Kafka SASL password", secret=True),
    Setting("ssl_cafile", "", "CA certificate file to verify the brokers"),
    Setting("schema_registry_url", "",
            "Confluent Schema Registry URL; set: the worker writes the Confluent wire format, schemas registered"
            " as <topic>-value at start-up (raw topics excepted); empty: Avro single-object encoding,"
            " decodable with schemas/ alone"),
    Setting("schema_registry_auth", "", "Schema registry basic auth as USER:PASSWORD (empty: none)", secret=True),
]
SETTINGS: dict[str, Setting] = {s.name: s for s in _ROWS}
if len(SETTINGS) != len(_ROWS):
    raise ImportError(f"settings named twice: {sorted(n for n in SETTINGS if sum(r.name == n for r in _ROWS) > 1)}")


# What `dlr config` and error messages show for a secret, or a password inside a URL.
MASK = "******"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def masked(setting: Setting, value: str) -> str:
    if setting.secret and value:
        return MASK
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", value)


def get(name: str) -> str:
    return SETTINGS[name].value()


def get_int(name: str) -> int:
    value = get(name)
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{SETTINGS[name].env}={value!r} is not a whole number") from None


def provider_zones() -> dict[str, zoneinfo.ZoneInfo]:
    zones = {}
    for item in filter(None, get("provider_zones").split(",")):
        provider, _, zone = item.partition("=")
        try:
            zones[provider.strip()] = zoneinfo.ZoneInfo(zone.strip())
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SystemExit(f"DLR_PROVIDER_ZONES: unknown time zone {zone.strip()!r}") from None
    return zones


def mappings(path: str | None = None) -> mapping_file.Mappings | None:
    """The overrides of the mapping file at `path` (a command's --mappings),
    else of DLR_MAPPINGS; None when neither names one. A file that cannot be
    read or used is a MappingError of one line that names it: callers decide
    the exit (the worker 2, a command 64)."""
    if path is None:
        path = get("mappings").strip()
        source = f"{SETTINGS['mappings'].env} {path}"
    else:
        source = f"--mappings {path}"
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise mapping_file.MappingError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise mapping_file.MappingError(f"{source}: not UTF-8 (invalid byte at {exc.start})") from None
    return mapping_file.load(text, source)


def parse_options(received_at: str | None = None, mappings_path: str | None = None) -> Options:
    """Parse options as the worker, `dlr normalize` and `dlr replay` use
    them: the provider zones, the mapping overrides (`mappings_path`, else
    DLR_MAPPINGS: MappingError when bad) and the received time."""
    when = parse_iso(received_at) if received_at else time.time_ns() // 1000
    return Options(zones=dict(provider_zones()), received_at=when, mappings=mappings(mappings_path))


def kafka_security() -> dict[str, Any]:
    """librdkafka security settings from the environment (only those set)."""
    mapping = {
        "security_protocol": "security.protocol",
        "sasl_mechanism": "sasl.mechanism",
        "sasl_username": "sasl.username",
        "sasl_password": "sasl.password",
        "ssl_cafile": "ssl.ca.location",
    }
    return {key: get(name) for name, key in mapping.items() if get(name)}
