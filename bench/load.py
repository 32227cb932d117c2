"""Many users at once: each signs in, reloads and signs out, in its own browser context.

    .venv/bin/python bench/load.py [--users 200] [--concurrency 25]

The app runs in production mode against the development provider, one user
account per simulated user; every user must see their own claims and nobody
else's. Prints throughput, latency percentiles of the whole journey, errors
and cross-user leaks.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

from harness import app_with_provider
from playwright.async_api import async_playwright, expect

from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS


async def journey(browser, base: str, username: str, password: str, name: str) -> tuple[float, bool]:
    """One user's sign-in, reload and sign-out; (seconds, saw only their own claims)."""
    context = await browser.new_context()
    page = await context.new_page()
    started = time.perf_counter()
    try:
        await page.goto(base)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=60_000)
        await page.reload()
        await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=60_000)
        own = f"load-{username}" in await page.get_by_role("table").filter(has_text="email").first.inner_text()
        await page.get_by_role("button", name="Sign out", exact=True).click()
        await expect(page.get_by_text("You are not signed in.")).to_be_visible(timeout=60_000)
        return time.perf_counter() - started, own
    finally:
        await context.close()


async def main(users: int, concurrency: int) -> None:
    times, errors, leaks = [], [], 0
    with app_with_provider("load") as (provider, base):
        accounts = []
        for n in range(users):
            username, password = f"user{n:04d}", secrets.token_urlsafe(10)
            provider.put_user(username, password, name=f"User {n:04d}", email=f"load-{username}@example.com")
            accounts.append((username, password, f"User {n:04d}"))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            gate = asyncio.Semaphore(concurrency)

            async def one(account):
                nonlocal leaks
                async with gate:
                    try:
                        seconds, own = await journey(browser, base, *account)
                        times.append(seconds)
                        leaks += not own
                    except Exception as err:  # counted and reported, the run goes on
                        errors.append(f"{account[0]}: {type(err).__name__}")

            started = time.perf_counter()
            await asyncio.gather(*(one(account) for account in accounts))
            wall = time.perf_counter() - started
            await browser.close()
    times.sort()
    pct = lambda q: times[min(len(times) - 1, int(len(times) * q))] * 1000  # noqa: E731
    print(f"users {users}, {concurrency} at a time, {wall:.1f} s: {len(times) / wall:.2f} journeys/s")
    print(f"journey (sign-in + reload + sign-out) ms: p50 {pct(0.5):.0f}, p95 {pct(0.95):.0f}, p99 {pct(0.99):.0f}")
    print(f"errors {len(errors)}, cross-user leaks {leaks}")
    for error in errors[:10]:
        print("  ", error)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=25)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.users, arguments.concurrency))
