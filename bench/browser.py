"""Browser timings of each step, headless chromium, the app in production mode.

    .venv/bin/python bench/browser.py [--runs 20]

A fresh browser context for each run; prints median and p95 in milliseconds.
The development provider and the app start on free ports and stop at the end.
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness import app_with_provider, percentile
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

STEPS = [
    "cold load to an interactive Sign in",
    "click Sign in to leaving for the provider",
    "provider form submitted to claims visible",
    "signed-in reload to claims visible",
    "Sign out to the signed-out page",
]


def main(runs: int) -> None:
    timings: dict[str, list[float]] = {step: [] for step in STEPS}
    with app_with_provider("bench") as (provider, base):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for _ in range(runs + 1):  # the first run warms the server and is not counted
                context = browser.new_context()
                page = context.new_page()
                left: list[float] = []
                page.on("request", lambda r: left.append(time.perf_counter()) if "/oidc/auth" in r.url else None)
                run = {}
                t = time.perf_counter()
                page.goto(base, wait_until="commit")
                expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
                run[STEPS[0]] = time.perf_counter() - t
                t = time.perf_counter()
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{provider.origin}/**", wait_until="commit")
                run[STEPS[1]] = left[0] - t
                page.get_by_label("Username").fill("demo")
                page.get_by_label("Password").fill("demo-password")
                t = time.perf_counter()
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
                run[STEPS[2]] = time.perf_counter() - t
                t = time.perf_counter()
                page.reload(wait_until="commit")
                expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
                run[STEPS[3]] = time.perf_counter() - t
                t = time.perf_counter()
                page.get_by_role("button", name="Sign out", exact=True).click()
                expect(page.get_by_text("You are not signed in.")).to_be_visible()
                run[STEPS[4]] = time.perf_counter() - t
                context.close()
                if _ > 0:
                    for step, seconds in run.items():
                        timings[step].append(seconds)
            browser.close()
    print("| step | median ms | p95 ms | runs |")
    print("|------|----------:|-------:|-----:|")
    for step, samples in timings.items():
        samples.sort()
        p95 = percentile(samples, 0.95)
        print(f"| {step} | {statistics.median(samples) * 1000:.0f} | {p95 * 1000:.0f} | {len(samples)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    main(parser.parse_args().runs)
