"""`LeanMonitor` replaces Faust's default `Monitor` sensor, without its
per-event bookkeeping.

Faust's default `Monitor` sensor times and counts every message and event
(four calls per receipt: in, event in, event out, out) for its /stats page,
which dlr-streams does not serve: operators read /metrics
(`streams.worker.metrics`). In the worker profile the sensor calls were
2.5% of the event loop's time. What Faust itself reads from the monitor is
kept: `stream_inbound_time`, from which the consumer logs a partition whose
stream stopped taking events."""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor

from streams.worker.faust_compat.surface import Touch

TOUCHES = [
    Touch("faust.sensors:Monitor", name, "LeanMonitor overrides it", params=params)
    for name, params in [("on_message_in", ("tp", "offset", "message")),
                         ("on_stream_event_in", ("tp", "offset", "stream", "event")),
                         ("on_stream_event_out", ("tp", "offset", "stream", "event", "state")),
                         ("on_message_out", ("tp", "offset", "message"))]
] + [Touch("faust.sensors:Monitor", "stream_inbound_time", "Faust's consumer reads it; LeanMonitor keeps it",
           assigned=True)]


class LeanMonitor(Monitor):
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        pass

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        pass

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        pass
