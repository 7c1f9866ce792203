"""A schema registry for the tests: `FakeClient` in memory (the two-method
RegistryClient of streams.serde.registry), and `serve`, an HTTP server over it that
speaks the subset of the Confluent Schema Registry REST API that
confluent_kafka.schema_registry's client calls (POST /subjects/{subject}/versions
to register, GET /schemas/ids/{id} to look up), so the real client, and a real
`dlr worker` process, can be pointed at it.

Why a stand-in: no real registry can run on the test machines (no container
engine for confluentinc/cp-schema-registry, and Karapace is not installable
there). The deploy/ compose file runs the real one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class FakeClient:
    """A registry in memory: one global id per distinct schema text, as the
    real registry gives the same schema the same id under every subject."""

    def __init__(self) -> None:
        self.schemas: list[str] = []
        self.subjects: dict[str, list[int]] = {}
        self.calls = 0
        self.down = False
        self._lock = threading.Lock()

    def register(self, subject: str, schema_str: str) -> int:
        with self._lock:
            self.calls += 1
            if self.down:
                raise ConnectionError("registry down")
            if schema_str not in self.schemas:
                self.schemas.append(schema_str)
            schema_id = self.schemas.index(schema_str) + 1
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    def lookup(self, schema_id: int) -> str:
        with self._lock:
            self.calls += 1
            if self.down:
                raise ConnectionError("registry down")
            if not 0 < schema_id <= len(self.schemas):
                raise KeyError(schema_id)
            return self.schemas[schema_id - 1]


class _Handler(BaseHTTPRequestHandler):
    store: FakeClient
    auth: list[str | None]

    def log_message(self, *_args: Any) -> None:
        pass

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.auth.append(self.headers.get("Authorization"))
        path = self.path.split("?")[0]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if path.startswith("/subjects/") and path.endswith("/versions"):
            subject = unquote(path[len("/subjects/"):-len("/versions")])
            self._reply(200, {"id": self.store.register(subject, body["schema"])})
        else:
            self._reply(404, {"error_code": 404, "message": "not found"})

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/schemas/ids/"):
            schema_id = int(path.rsplit("/", 1)[1])
            if 0 < schema_id <= len(self.store.schemas):
                self._reply(200, {"schema": self.store.lookup(schema_id)})
                return
            if schema_id == 500:  # a registry failing, for the tests of that
                self._reply(500, {"error_code": 50001, "message": "store error"})
                return
        self._reply(404, {"error_code": 40403, "message": "Schema not found"})


@contextmanager
def serve(store: FakeClient | None = None) -> Iterator[tuple[str, FakeClient, list[str | None]]]:
    """(base URL, the store behind it, the Authorization header of each POST)
    of a registry on 127.0.0.1 for the duration of the block."""
    store = store or FakeClient()
    auth: list[str | None] = []
    handler = type("Handler", (_Handler,), {"store": store, "auth": auth})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store, auth
    finally:
        server.shutdown()
        server.server_close()
