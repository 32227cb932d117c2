"""Browser timings of each step, headless chromium, the app in production mode.

    .venv/bin/python bench/browser.py [--runs 20]

A fresh browser context for each run; prints median and p95 in milliseconds.
The development provider and the app start on free ports and stop at the end.

The page timestamps its own milestones (a script added to every document
watches the DOM and notes the animation frame in which each one shows), and
clicks are made by the page at a noted time, so neither Playwright's polling
nor its click machinery is counted. A step starts at the click, or for a page
load at the browser's own navigation start.
"""

from __future__ import annotations

import argparse
import statistics

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

# Milestones, each noted once per document, in epoch milliseconds.
MILESTONES = """
(() => {
  const seen = (window.__seen = {});
  const now = () => performance.timeOrigin + performance.now();
  const probes = {
    sign_in: () => [...document.querySelectorAll("button")].some(
      (b) => b.textContent.trim() === "Sign in" && !b.disabled && !b.hasAttribute("data-loading")),
    claims: () => [...document.querySelectorAll("h1, h2, h3, h4")].some((h) => h.textContent.includes("Demo User")),
    signed_out: () => !!document.body && document.body.textContent.includes("You are not signed in."),
  };
  const check = () => {
    for (const [name, probe] of Object.entries(probes)) {
      if (!(name in seen) && !(name + "_pending" in seen) && probe()) {
        seen[name + "_pending"] = true;
        requestAnimationFrame(() => (seen[name] = now()));  // the frame that shows it
      }
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})();
"""

# Click a button from inside the page, at once, and say when.
CLICK = """
(name) => {
  const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === name);
  setTimeout(() => button.click());
  return performance.timeOrigin + performance.now();
}
"""


def mark(page, name: str) -> float:
    page.wait_for_function(f"window.__seen.{name}")
    return page.evaluate(f"window.__seen.{name}")


def navigation_start(page) -> float:
    return page.evaluate("performance.timeOrigin")


def main(runs: int) -> None:
    timings: dict[str, list[float]] = {step: [] for step in STEPS}
    with app_with_provider("bench") as (provider, base):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for run_number in range(runs + 1):  # the first run warms the server and is not counted
                context = browser.new_context()
                context.add_init_script(MILESTONES)
                page = context.new_page()
                run = {}
                page.goto(base, wait_until="commit")
                expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
                run[STEPS[0]] = mark(page, "sign_in") - navigation_start(page)

                with page.expect_request(lambda r: "/oidc/auth" in r.url) as leaving:
                    clicked = page.evaluate(CLICK, "Sign in")
                page.wait_for_url(f"{provider.origin}/**", wait_until="commit")
                run[STEPS[1]] = leaving.value.timing["startTime"] - clicked  # both epoch milliseconds

                page.get_by_label("Username").fill("demo")
                page.get_by_label("Password").fill("demo-password")
                clicked = page.evaluate(CLICK, "Sign in")
                expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
                run[STEPS[2]] = mark(page, "claims") - clicked

                page.reload(wait_until="commit")
                expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
                run[STEPS[3]] = mark(page, "claims") - navigation_start(page)

                clicked = page.evaluate(CLICK, "Sign out")
                expect(page.get_by_text("You are not signed in.")).to_be_visible()
                run[STEPS[4]] = mark(page, "signed_out") - clicked
                context.close()
                if run_number > 0:
                    for step, milliseconds in run.items():
                        timings[step].append(milliseconds)
            browser.close()
    print("| step | median ms | p95 ms | runs |")
    print("|------|----------:|-------:|-----:|")
    for step, samples in timings.items():
        print(f"| {step} | {statistics.median(samples):.0f} | {percentile(samples, 0.95):.0f} | {len(samples)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    main(parser.parse_args().runs)
