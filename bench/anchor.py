"""The Next.js anchor (/work/shared/anchors/next-logto: Next.js + @logto/next), built
beforehand, run with `next start` against a given development provider.

Build it once:

    cp -r /work/shared/anchors/next-logto /tmp/next-anchor && cd /tmp/next-anchor \
        && npm ci --no-audit --no-fund && NEXT_TELEMETRY_DISABLED=1 node node_modules/next/dist/bin/next build
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from harness import free_port

from reflex_logto.devprovider.launcher import DevProvider

BUILD_HINT = (
    "cp -r /work/shared/anchors/next-logto {dir} && cd {dir} && npm ci --no-audit --no-fund"
    " && NEXT_TELEMETRY_DISABLED=1 node node_modules/next/dist/bin/next build"
)
START_TIMEOUT = 60  # seconds


def missing(build_dir: Path) -> str | None:
    """Why `build_dir` can't be started, with the one line that builds it; None if it can."""
    if (build_dir / "node_modules" / "next").is_dir() and (build_dir / ".next" / "BUILD_ID").is_file():
        return None
    return f"no built Next.js anchor in {build_dir}; build it with: {BUILD_HINT.format(dir=build_dir)}"


@contextlib.contextmanager
def anchor_server(build_dir: Path, provider: DevProvider, log_path: Path) -> Iterator[str]:
    """The anchor's base URL, `next start` running as a client of `provider` until the block ends."""
    port = free_port()
    base = f"http://localhost:{port}"
    client_id, secret = "next-anchor", secrets.token_urlsafe(32)
    provider.put_client(client_id, secret, base_url=base, client_name="Next.js anchor")
    env = {
        **os.environ, "NODE_ENV": "production", "NEXT_TELEMETRY_DISABLED": "1",
        "LOGTO_ENDPOINT": provider.origin, "LOGTO_APP_ID": client_id, "LOGTO_APP_SECRET": secret,
        "LOGTO_BASE_URL": base, "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
    }
    process = subprocess.Popen(
        ["node", "node_modules/next/dist/bin/next", "start", "-H", "127.0.0.1", "-p", str(port)],
        cwd=build_dir, env=env, stdin=subprocess.DEVNULL, stdout=open(log_path, "a"), stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as one at the end
    )
    try:
        _wait_until_up(process, base, log_path)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_up(process: subprocess.Popen, base: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the anchor exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(base, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the anchor did not start in {START_TIMEOUT}s:\n{log_path.read_text()[-3000:]}")
