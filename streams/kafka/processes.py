"""Worker processes started by `dlr up`, the tests and the benchmarks: the real
`dlr worker` command in a child process, never an in-process shortcut."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from streams.kafka.broker import free_port


class WorkerProcess:
    def __init__(self, bootstrap: str, data_dir: str | Path, *, web_port: int = 0,
                 log: str | Path | None = None, env: dict[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.data_dir = Path(data_dir)
        self.web_port = web_port or free_port()
        self.log_path = Path(log) if log else self.data_dir / "worker.log"
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DLR_LOG_LEVEL": "warn", **self.env}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams", "worker", "--broker", self.bootstrap,
                 "--web-port", str(self.web_port), "--data-dir", str(self.data_dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def crashed(self) -> bool:
        """Started, not stopped by us, and gone."""
        return self.process is not None and self.process.poll() is not None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (a clean stop commits offsets); SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._killpg(process)
        return process.returncode

    def kill(self) -> None:
        """kill -9: a crash, no goodbyes."""
        process, self.process = self.process, None
        if process is not None:
            self._killpg(process)

    @staticmethod
    def _killpg(process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_web(self, timeout: float = 60.0) -> None:
        """Until the worker's HTTP server answers (the worker is up)."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"worker exited; log:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/health", timeout=1).close()
                return
            except urllib.error.HTTPError:  # an answer (503 until ready): the server is up
                return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker web server not up after {timeout:.0f}s; log:\n{self.log_tail()}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until /health answers 200: partitions assigned, tables recovered."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"worker exited; log:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.HTTPError):
                urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/health", timeout=1).close()
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout:.0f}s; log:\n{self.log_tail()}")

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
