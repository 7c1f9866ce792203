"""`direct_create_event` replaces `App.create_event`, which looks its Event
class up in Faust's settings registry for every message: here it is looked up
once. Installed at app creation, before the topics compile their decoders,
which take the method then."""

from __future__ import annotations

from functools import partial
from typing import Any

from streams.worker.faust_compat.surface import Touch

TOUCHES = [
    Touch("faust.app.base:App", "create_event", "replaced by the Event class bound once",
          params=("key", "value", "headers", "message")),
    Touch("faust.types.settings.settings:Settings", "Event", "the Event class, read once"),
]


def direct_create_event(app: Any) -> None:
    event_class: Any = app.conf.Event
    app.create_event = partial(event_class, app)
