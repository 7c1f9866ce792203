"""The webhook endpoints: one route per provider, at /dlr/<provider>, made
from its record (streams/core/providers/<name>/webhook.py: the methods it
calls with, its signature check and the answer it takes for success). What
becomes the payload is fixed by the method: a GET's query string (the
provider's parsers read exactly that), a POST's body.

Success is sent only once Kafka has acknowledged the write; anything else
makes the provider retry. Every provider here takes the default answer, a 200
with an empty body; a record's ok_* fields change it for one that wants
another.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.providers import PROVIDERS
from streams.core.providers._http import Incoming
from streams.core.providers._provider import Signer
from streams.worker.webhooks.receive import WebhookConfig


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    methods: tuple[str, ...]
    signer: Signer | None = None
    ok_status: int = 200
    ok_body: str = ""
    ok_content_type: str = "text/plain"

    @property
    def path(self) -> str:
        return f"/dlr/{self.provider}"

    def verify(self, incoming: Incoming, config: WebhookConfig) -> None:
        """Raises SignatureError when this provider's secret is set and the
        request's signature is bad or missing."""
        secret = config.secrets.get(self.provider)
        if secret and self.signer is not None:
            self.signer(incoming, secret, config.provider_settings)


ROUTES: dict[str, Route] = {
    name: Route(name, p.webhook.methods, p.webhook.signer, p.webhook.ok_status, p.webhook.ok_body,
                p.webhook.ok_content_type)
    for name, p in PROVIDERS.items()
}
