"""The app in production mode (`reflex run --env prod`) on a free port, as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 300  # seconds: the first production build compiles the whole frontend


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.port = port
        self.url = f"http://localhost:{port}"
        self.log_path = log_path
        self.env = env
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        path = f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"
        return subprocess.Popen(
            ["reflex", "run", "--env", "prod", "--frontend-port", str(self.port), "--backend-port", str(self.port),
             "--backend-host", "127.0.0.1"],
            cwd=ROOT,
            env={**os.environ, **self.env, "PATH": path, "REFLEX_TELEMETRY_ENABLED": "false"},
            stdin=subprocess.DEVNULL,
            stdout=open(self.log_path, "a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() ends reflex and its workers
        )

    def restart(self) -> None:
        """Stop the whole app and start it again: nothing in its memory survives."""
        self.stop()
        self.process = self._start()
        self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited ({self.process.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=2).status_code == 200 and \
                        httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the app did not start in {START_TIMEOUT}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
