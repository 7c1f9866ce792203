"""The `Provider` record: everything the rest of dlr-streams knows about one
provider, declared in its folder's `__init__.py` as `PROVIDER`. The webhook
routes, the signed providers, the kept headers, the provider settings, the
samples `dlr up` feeds and the generators of the benches and tests are all
read from these records; nothing else names a provider.

A record is checked when it is made, so a provider folder that declares
something the rest cannot serve fails at import, not at the first request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.core.model import Receipt, ReceiptError
from streams.core.providers._http import Incoming
from streams.core.providers._wire import Options

# parse(payload, options) -> Receipt, raising ReceiptError with the reason.
Parse = Callable[[bytes, Options], Receipt]
# parse_all(payload, options) -> one receipt or error per report, for
# providers that post several reports at once (Infobip); raises ReceiptError
# only when the payload as a whole cannot be read.
ParseAll = Callable[[bytes, Options], list[Receipt | ReceiptError]]
# signer(request, secret, settings) -> None, raising SignatureError; `settings`
# holds the values of every setting the providers declare, by setting name.
Signer = Callable[[Incoming, str, Mapping[str, str]], None]
# generate(message number, provider status word, error code or None, time) -> payload.
Generate = Callable[[int, str, str | None, dt.datetime], bytes]

METHODS = ("GET", "POST")


def secret_only(verify: Callable[[Incoming, str], None]) -> Signer:
    """The signer of a check that reads the secret and no other setting."""

    def signer(incoming: Incoming, secret: str, _settings: Mapping[str, str]) -> None:
        verify(incoming, secret)

    return signer
# Headers a webhook may never keep in the envelope: they carry credentials.
NEVER_KEPT = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


@dataclass(frozen=True, slots=True)
class ProviderSetting:
    """A setting a provider declares (a `streams.settings.Setting` row once
    loaded: env DLR_<NAME>). `choices`, when given, are the accepted values,
    compared stripped and lower-case."""

    name: str
    help: str
    default: str = ""
    secret: bool = False
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.choices and self.default not in self.choices:
            raise ValueError(f"setting {self.name}: default {self.default!r} is not one of its choices")


@dataclass(frozen=True, slots=True)
class Webhook:
    """How a provider calls /dlr/<name>: the methods it uses (a GET's payload
    is its query string, a POST's its body), the check of its signature (run
    only when `secret` is set), the settings that check reads, the headers
    kept in the envelope beside the common ones, and the answer that tells
    the provider the receipt is stored (any other makes it retry)."""

    methods: tuple[str, ...]
    signer: Signer | None = None
    secret: ProviderSetting | None = None
    settings: tuple[ProviderSetting, ...] = ()
    kept_headers: tuple[str, ...] = ()
    ok_status: int = 200
    ok_body: str = ""
    ok_content_type: str = "text/plain"

    def __post_init__(self) -> None:
        if not self.methods or not set(self.methods) <= set(METHODS):
            raise ValueError(f"webhook methods {self.methods!r}: expected some of {METHODS}")
        if (self.signer is None) != (self.secret is None):
            raise ValueError("a webhook signer and its secret come together")
        if self.secret is not None and not self.secret.secret:
            raise ValueError(f"setting {self.secret.name} holds a secret and must be declared secret=True")
        bad = [h for h in self.kept_headers if h != h.lower() or h in NEVER_KEPT]
        if bad:
            raise ValueError(f"kept headers {bad}: names are lower-case and never credentials")
        if not 200 <= self.ok_status < 300:
            raise ValueError(f"ok_status {self.ok_status}: a stored receipt is answered 2xx")

    @property
    def declared(self) -> tuple[ProviderSetting, ...]:
        return self.settings if self.secret is None else (self.secret, *self.settings)


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider. `name` is its folder's name: the key of its receipts
    (`<name>:<message id>`), its raw topic (dlr.raw.<name>) and its endpoint
    (/dlr/<name>). `lifecycles` are the status words (with ":code" for an
    error) of whole message lives, in the provider's words, for `generate`.
    `parse_all`, for a provider whose one payload may hold several reports,
    reads them all; `parse` then reads a payload of one."""

    name: str
    parse: Parse
    webhook: Webhook
    samples: Path
    generate: Generate
    lifecycles: tuple[tuple[str, ...], ...]
    parse_all: ParseAll | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower() or self.name.startswith("_"):
            raise ValueError(f"provider name {self.name!r}: a lower-case identifier")
        for setting in self.webhook.declared:
            if not (setting.name == f"secret_{self.name}" or setting.name.startswith(f"{self.name}_")):
                raise ValueError(f"{self.name} setting {setting.name!r}: named secret_{self.name} "
                                 f"or {self.name}_<what>, so that no two providers' settings collide")
        if not self.lifecycles or any(len(steps) < 2 for steps in self.lifecycles):
            raise ValueError(f"{self.name} lifecycles: at least one, each of two steps or more")
