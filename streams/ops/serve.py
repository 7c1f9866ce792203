"""`dlr broker`: the embedded broker in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from streams.kafka.broker import BrokerError, EmbeddedBroker


def serve_broker(impl: str, data_dir: str, port: int) -> int:
    broker = EmbeddedBroker(impl, data_dir=data_dir, port=port)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        bootstrap = broker.start()
    except BrokerError as exc:
        print(f"dlr broker: {exc}", file=sys.stderr)
        return 1
    print(bootstrap, flush=True)
    print(f"dlr broker: {impl} on {bootstrap}, data in {broker.data_dir}; Ctrl-C stops it", file=sys.stderr)
    try:
        while not stop.wait(0.5):
            if broker.process is None or broker.process.poll() is not None:
                print(f"dlr broker: {impl} exited; log:\n{broker.log_tail()}", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    return 0
