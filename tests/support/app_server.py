"""The app in production mode (`reflex run --env prod`) on a free port, as a subprocess."""

from __future__ import annotations

import os
import shutil
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


def project_copy(destination: Path) -> Path:
    """The project's files as a fresh clone has them, sharing the installed packages."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    for installed in ("node_modules", ".venv"):
        (destination / installed).symlink_to(ROOT / installed)
    return destination


class AppServer:
    def __init__(self, env: dict[str, str], port: int, log_path: Path, *, project: Path = ROOT):
        self.project = project
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
            cwd=self.project,
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

    def processes(self) -> list[int]:
        """The app's processes: Reflex (Granian's supervisor) and its workers (not the workers'
        page renderers, Node.js processes in the same group)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                name, fields = stat.read_text().split("(", 1)[1].rsplit(")", 1)
            except OSError:
                continue  # gone meanwhile
            fields = fields.split()
            # Same process group, not a zombie, not a renderer.
            if int(fields[2]) == self.process.pid and fields[0] != "Z" and name != "node":
                pids.append(int(stat.parent.name))
        return pids

    def kill_worker(self) -> None:
        """SIGKILL one backend worker, as a crash would. Reflex runs Granian without
        respawning workers, so the app then shuts down; this returns once it has."""
        worker = next(pid for pid in self.processes() if pid != self.process.pid)
        os.kill(worker, signal.SIGKILL)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("the app kept running with a worker gone") from None
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # anything of it still left
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
