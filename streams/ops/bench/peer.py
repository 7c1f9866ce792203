"""The peer: a plain Faust agent that decodes each receipt and writes a Table
per event, as a developer new to Faust would write it (default serializers,
one agent, `table[key] = ...` for every receipt). Run as
`python -m streams.ops.bench.peer BOOTSTRAP DATADIR WEBPORT`."""

from __future__ import annotations

import sys

import faust

from streams.core import providers
from streams.core.model import ReceiptError
from streams.serde import envelope
from streams.topics import RAW_PREFIX


def main(bootstrap: str, datadir: str, web_port: int) -> None:
    app = faust.App("dlr-bench-peer", broker=f"kafka://{bootstrap}", store="memory://", datadir=datadir,
                    web_port=web_port, web_bind="127.0.0.1", topic_partitions=4, autodiscover=False,
                    consumer_auto_offset_reset="earliest")
    topics = app.topic(*[RAW_PREFIX + p for p in providers.names()], value_type=bytes, key_type=bytes,
                       value_serializer="raw", key_serializer="raw")
    table = app.Table("peer-state", default=dict, partitions=4)

    @app.agent(topics)
    async def process(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            provider = event.message.topic[len(RAW_PREFIX):]
            try:
                env = envelope.read(event.value, 0)
                receipt = providers.normalize(provider, env["payload"],
                                              providers.Options(received_at=env["received_at"]))
            except ReceiptError:
                continue
            state = table[receipt.message_key]
            state["status"] = receipt.status.value
            state["event_time"] = receipt.event_time
            table[receipt.message_key] = state

    faust.Worker(app, loglevel="warn", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
