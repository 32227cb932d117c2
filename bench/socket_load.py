"""Many users at once, at the level of the wire: each signs in, reloads and signs out.

    .venv/bin/python bench/socket_load.py [--users 200] [--concurrency 200] [--workers 2]

Each simulated user is a UserAgent of tests/support/event_client.py: HTTP for pages
and redirects, Reflex's event protocol on a websocket per page load, its own
account at the development provider. Nothing else shares the 2 cores with the
app and the provider, so this measures them (bench/load.py drives chromium).
With --workers N the app runs N backend workers with Reflex's state and the
sessions in Redis (Debian's redis-server, started here). Every page a user
opens must show their own claims, and no frame they receive may carry another
user's.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time

from harness import app_with_users
from stats import percentile

from tests.support.event_client import Tab, UserAgent

EMAIL = re.compile(r"load-user\d{4}@example\.com")


async def journey(base: str, username: str, password: str) -> dict[str, float]:
    """One user's sign-in, reload and sign-out; the seconds each step took.

    Raises:
        AssertionError: the user saw someone else's claims, or not their own.
    """
    own_email = f"load-{username}@example.com"
    agent = UserAgent(base)
    tabs: list[Tab] = []
    steps: dict[str, float] = {}

    async def page(url: str) -> Tab:
        tab = await agent.open(url)
        tabs.append(tab)
        return tab

    async def go(tab: Tab, **credentials) -> Tab:
        tab = await agent.go(tab, await tab.navigation(), **credentials)
        tabs.append(tab)
        return tab

    try:
        started = time.perf_counter()
        home = await page(f"{base}/")
        assert not home.auth("signed_in"), "signed in before signing in"
        await home.send("sign_in")
        to_provider = await home.navigation()
        await home.close()
        clicked = time.perf_counter()
        callback = await agent.follow(to_provider.url, credentials=(username, password))
        submitted = time.perf_counter()
        home = await go(await page(callback))  # the callback finishes it, then the page it started on
        assert home.auth("user_email") == own_email, f"{username} sees {home.auth('user_email')!r}"
        await home.close()
        signed_in = time.perf_counter()
        home = await page(f"{base}/")
        assert home.auth("user_email") == own_email, f"{username} sees {home.auth('user_email')!r} after a reload"
        reloaded = time.perf_counter()
        await home.send("sign_out")
        landing = await go(home)
        assert not landing.auth("signed_in"), "still signed in after signing out"
        await landing.close()
        done = time.perf_counter()
        steps = {
            "journey": done - started,
            "start sign-in (load, click, to the provider)": clicked - started,
            "form submitted to claims": signed_in - submitted,
            "reload to claims": reloaded - signed_in,
            "sign out to the signed-out page": done - reloaded,
        }
    finally:
        await agent.aclose()
    seen = set(EMAIL.findall("".join(frame for tab in tabs for frame in tab.frames)))
    assert seen <= {own_email}, f"{username} was sent another user's claims: {sorted(seen - {own_email})}"
    return steps


async def run(base: str, accounts: list[tuple[str, str]], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    results: list[dict[str, float]] = []
    errors: list[str] = []
    leaks = 0

    async def one(username: str, password: str) -> None:
        nonlocal leaks
        async with gate:
            try:
                results.append(await journey(base, username, password))
            except AssertionError as err:
                leaks += "another user" in str(err)
                errors.append(f"{username}: {err}")
            except Exception as err:  # counted and reported, the run goes on
                errors.append(f"{username}: {type(err).__name__}: {err}"[:200])

    started = time.perf_counter()
    await asyncio.gather(*(one(*account) for account in accounts))
    wall = time.perf_counter() - started
    print(f"\n{len(accounts)} users, {concurrency} at a time: {wall:.1f} s, {len(results) / wall:.1f} journeys/s, "
          f"errors {len(errors)}, cross-user leaks {leaks}\n")
    print("| step | p50 ms | p95 ms | p99 ms |")
    print("|------|-------:|-------:|-------:|")
    for step in (results[0] if results else {}):
        samples = [r[step] for r in results]
        print(f"| {step} | {statistics.median(samples) * 1000:.0f} | {percentile(samples, 0.95) * 1000:.0f} "
              f"| {percentile(samples, 0.99) * 1000:.0f} |")
    for error in errors[:10]:
        print("  ", error)


def main(users: int, concurrency: int, workers: int) -> None:
    with app_with_users("socket-load", users, workers) as (base, accounts):
        asyncio.run(run(base, accounts, concurrency))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    arguments = parser.parse_args()
    main(arguments.users, arguments.concurrency, arguments.workers)
