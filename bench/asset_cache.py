"""How soon the asset cache's service worker is active once a tab starts leaving for the provider.

    .venv/bin/python bench/asset_cache.py [--runs 16]

The worker is registered as the tab leaves (Sign in, Sign out) and keeps the build's files in
Cache Storage; only a page the provider sends back once it is active reads its scripts from
there, so the time from leaving to active decides how often that happens. Each run: a fresh
browser context (an empty Cache Storage, as on a first sign-in), the home page loaded, then the
call that Sign in's script makes just before the tab leaves, timed to the worker's registration
and to its activation (ms). The tab stays, so no provider page loads meanwhile. Then the worker
is released, as the page back from the provider releases it, and a new page of the same browser
does the same again: the second trip's install, with the files already in Cache Storage. The app in production mode against the
development provider, both on free ports.
"""

from __future__ import annotations

import argparse
import statistics

from browser import APP, MILESTONES, mark
from harness import app_with_provider
from playwright.sync_api import sync_playwright
from stats import percentile

from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS

# What the Sign in handler's script calls as the tab leaves; then the worker's state, awaited.
LEAVE = """async () => {
  const start = performance.now();
  await window.__reflexLogtoCacheAssets();
  const registration = await navigator.serviceWorker.getRegistration("/");
  const registered = performance.now() - start;
  const worker = registration.installing || registration.waiting || registration.active;
  if (worker.state !== "activated")
    await new Promise((done) => worker.addEventListener("statechange", () => worker.state === "activated" && done()));
  return [registered, performance.now() - start];
}"""
RELEASE = """async () => (await navigator.serviceWorker.getRegistration("/")).unregister()"""
GONE = """async () => !(await navigator.serviceWorker.getRegistration("/")) && !navigator.serviceWorker.controller"""


def main(runs: int) -> None:
    registered, active, again = [], [], []
    with app_with_provider("bench") as (_provider, base), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for run in range(runs + 1):  # the first warms the server and is not counted
            context = browser.new_context()
            context.add_init_script(MILESTONES.replace("__PROBES__", APP.probes))
            page = context.new_page()
            page.goto(base, wait_until="commit")
            mark(page, "sign_in")
            took = page.evaluate(LEAVE)
            # Released as the page back from the provider releases it, and that page closed;
            # then a new page of the same browser leaves again.
            page.evaluate(RELEASE)
            page.close()
            page = context.new_page()
            page.goto(base, wait_until="commit")
            mark(page, "sign_in")
            page.wait_for_function(GONE)
            second = page.evaluate(LEAVE)
            context.close()
            if run:
                registered.append(took[0])
                active.append(took[1])
                again.append(second[1])
        browser.close()
    print("| from leaving to | median ms | p95 ms | runs |")
    print("|-----------------|----------:|-------:|-----:|")
    timed = (
        ("the worker registered", registered),
        ("the worker active", active),
        ("the worker active, the second trip (its files kept)", again),
    )
    for name, samples in timed:
        print(f"| {name} | {statistics.median(samples):.0f} | {percentile(samples, 0.95):.0f} | {len(samples)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    main(parser.parse_args().runs)
