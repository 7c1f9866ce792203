"""The webhook endpoints: one table, one row per provider, in the shape each
provider calls. What becomes the payload is fixed by the method: a GET's query
string (the provider's parsers read exactly that), a POST's body.

Provider    Path             Methods    Sent as                               Signature (when a secret is set)
gatewayapi  /dlr/gatewayapi  POST       JSON (REST webhook, messaging event)  X-Gwapi-Signature JWT or Signature v1
messente    /dlr/messente    GET, POST  GET: legacy dlr-url query; POST JSON  X-Messente-Signature (GET refused)
labsmobile  /dlr/labsmobile  GET        ackurl query                          none documented
vonage      /dlr/vonage      GET, POST  query; POST JSON or form              sig parameter or Authorization JWT
smpp        /dlr/smpp        POST       SMPP receipt text (text/plain)        none (an internal gateway)

Success is 200 with an empty body, sent only once Kafka has acknowledged the
write; anything else makes the provider retry. GatewayAPI: "2xx within 15
seconds", >= 300 retried (docs/rest.rst); Messente: "200-399" (Omnichannel
delivery-report docs); Vonage: a 200 OK. LabsMobile and the SMPP gateway are
given the same plain 200. Only a row's ok_* fields need change for a provider
that wants another answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.worker.webhooks import signatures
from streams.worker.webhooks.receive import Incoming, WebhookConfig

Signer = Callable[[Incoming, str, WebhookConfig], None]


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
            self.signer(incoming, secret, config)


ROUTES: dict[str, Route] = {r.provider: r for r in [
    Route("gatewayapi", ("POST",), lambda i, s, c: signatures.gatewayapi(i, s)),
    Route("messente", ("GET", "POST"), lambda i, s, c: signatures.messente(i, s)),
    Route("labsmobile", ("GET",)),
    Route("vonage", ("GET", "POST"), lambda i, s, c: signatures.vonage(i, s, c.vonage_signature_method)),
    Route("smpp", ("POST",)),
]}
