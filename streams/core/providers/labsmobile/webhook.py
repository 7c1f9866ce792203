"""LabsMobile's webhook: a GET to the ackurl with the fields in the query
(LabsMobile support article 77000494752). No signature is documented, and
LabsMobile documents no answer: it is given a plain 200."""

from __future__ import annotations

from streams.core.providers._provider import Webhook

WEBHOOK = Webhook(methods=("GET",))
