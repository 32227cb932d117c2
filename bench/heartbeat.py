"""What open signed-in tabs cost the server: each sends AuthState.heartbeat once a second.

    .venv/bin/python bench/heartbeat.py [--tabs 200] [--seconds 20] [--workers 1]

Signs in `--tabs` users over the wire (tests/support/event_client.py), keeps one tab
of each open sending the heartbeat every second as the page does, and reads
the app's CPU time (its processes' utime + stime in /proc) over the window:
CPU per heartbeat, and how many open tabs one core would carry at that rate.
A heartbeat that finds nothing changed sends nothing back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path

from harness import app_with_users

from tests.support.event_client import Tab, UserAgent

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def app_pids(port: int) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"--backend-port\0{port}\0".encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


async def signed_in_tab(base: str, username: str, password: str) -> Tab:
    tab = await UserAgent(base).sign_in((username, password))
    assert tab.auth("signed_in"), f"{username} is not signed in"
    return tab


async def beat(tab: Tab, seconds: float, sent: list[float]) -> None:
    """One heartbeat a second, as the page's timer sends it (nothing changed: no answer comes)."""
    deadline = time.monotonic() + seconds
    await asyncio.sleep(secrets.randbelow(1000) / 1000)  # tabs don't tick in step
    while time.monotonic() < deadline:
        started = time.perf_counter()
        await tab.send("heartbeat", {"_tick": str(int(time.time()))})
        sent.append(started)
        await asyncio.sleep(max(0.0, 1 - (time.perf_counter() - started)))


async def run(base: str, accounts: list[tuple[str, str]], seconds: float) -> None:
    port = int(base.rsplit(":", 1)[1])
    gate = asyncio.Semaphore(20)

    async def open_one(account):
        async with gate:
            return await signed_in_tab(base, *account)

    tabs = await asyncio.gather(*(open_one(account) for account in accounts))
    await asyncio.sleep(2)  # the sign-ins' own work is done
    pids = app_pids(port)
    sent: list[float] = []
    before, started = cpu_seconds(pids), time.perf_counter()
    await asyncio.gather(*(beat(tab, seconds, sent) for tab in tabs))
    await asyncio.sleep(1)  # the last ones handled
    cpu, wall = cpu_seconds(pids) - before, time.perf_counter() - started
    per_beat = cpu / len(sent)
    print(f"{len(tabs)} open tabs, {len(sent)} heartbeats in {wall:.1f} s ({len(sent) / wall:.0f}/s)")
    print(f"app CPU {cpu:.2f} s: {per_beat * 1000:.2f} ms per heartbeat, so about {1 / per_beat:.0f} open tabs per core")
    for tab in tabs:
        await tab.close()


def main(tabs: int, seconds: float, workers: int) -> None:
    with app_with_users("heartbeat", tabs, workers) as (base, accounts):
        asyncio.run(run(base, accounts, seconds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    arguments = parser.parse_args()
    main(arguments.tabs, arguments.seconds, arguments.workers)
