"""Two revisions of the app timed in one run: the browser steps of bench/browser.py for each,
against one development provider, taking turns run by run (A, B, B, A, ...), each in a fresh
browser context; per step both medians and B / A, with its 90 % bootstrap interval.

    .venv/bin/python bench/ab.py REV_A REV_B [--runs 16] [--rtt MS]

Each revision runs from its own checkout (`git archive`) with its own frontend build and its
own copy of the package (first on PYTHONPATH: the venv's editable install points at this
checkout), sharing the installed packages. A change measured this way is the B / A of one run,
which holds where absolute figures drift between runs (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from browser import APP, STEPS, network, one_run
from harness import DEMO_USERS, ROOT, in_turns
from playwright.sync_api import sync_playwright
from stats import percentile, ratio_cell

from reflex_logto.devprovider.launcher import DevProvider, start
from tests.support.app_server import AppServer, free_port
from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS


def checkout(revision: str, destination: Path) -> Path:
    """The tracked files of `revision`, with this checkout's installed packages."""
    archive = destination.with_suffix(".tar")
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), revision], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(destination, filter="data")
    archive.unlink()
    for installed in ("node_modules", ".venv"):
        (destination / installed).symlink_to(ROOT / installed)
    return destination


@contextlib.contextmanager
def app_at(revision: str, name: str, provider: DevProvider, state: Path) -> Iterator[str]:
    """The app of `revision` in production mode, signing in with `provider`: its base URL."""
    project = checkout(revision, state / name)
    port = free_port()
    base = f"http://localhost:{port}"
    secret = secrets.token_urlsafe(32)
    provider.put_client(f"ab-{name}", secret, base_url=base)
    env = {
        "LOGTO_ENDPOINT": provider.origin, "LOGTO_APP_ID": f"ab-{name}", "LOGTO_APP_SECRET": secret,
        "LOGTO_BASE_URL": base, "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        "LOGTO_SESSION_DB": str(state / f"{name}.sqlite3"), "LOGTO_ENV_FILE": "/nonexistent",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")])),
    }
    app = AppServer(env, port, state / f"{name}.log", project=project)
    try:
        app.wait_until_up()
        yield base
    finally:
        app.stop()


def main(revision_a: str, revision_b: str, runs: int, rtt_ms: float = 0) -> None:
    state = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    provider = start(state / "provider", port=0, owner_pid=os.getpid(), users_file=DEMO_USERS)
    timings: dict[str, dict[str, list[float]]] = {"A": {s: [] for s in STEPS}, "B": {s: [] for s in STEPS}}
    try:
        with app_at(revision_a, "a", provider, state) as base_a, app_at(revision_b, "b", provider, state) as base_b:
            with network(rtt_ms) as network_flags, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *network_flags])
                for run_number in range(runs + 1):
                    for name, base in in_turns([("A", base_a), ("B", base_b)], run_number):
                        run = one_run(browser, APP, base, provider.origin)
                        if run_number > 0:
                            for step, milliseconds in run.items():
                                timings[name][step].append(milliseconds)
                browser.close()
    finally:
        provider.stop()
    distance = f", the browser {rtt_ms:g} ms round trip away" if rtt_ms else ""
    print(f"A = {revision_a}, B = {revision_b}; medians of {runs} runs each{distance}, ms (p95)")
    print("| step | A | B | B / A (90 % interval) |")
    print("|------|--:|--:|------:|")
    for step in STEPS:
        a, b = timings["A"][step], timings["B"][step]
        print(f"| {step} | {statistics.median(a):.0f} ({percentile(a, 0.95):.0f}) | "
              f"{statistics.median(b):.0f} ({percentile(b, 0.95):.0f}) | {ratio_cell(b, a)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision_a")
    parser.add_argument("revision_b")
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--rtt", type=float, default=0, help="the browser's round-trip time to every server, ms")
    arguments = parser.parse_args()
    main(arguments.revision_a, arguments.revision_b, arguments.runs, arguments.rtt)
