"""Browser timings of each step, headless chromium, the app in production mode,
and in the same run the Next.js anchor (Next.js + @logto/next), against one provider.

    .venv/bin/python bench/browser.py [--runs 20] [--anchor /tmp/next-anchor] [--rtt MS]

The anchor's build dir comes from --anchor or BENCH_ANCHOR (bench/anchor.py says
how to build it); without either, only the app is timed. With it, the two apps
take turns run by run (app, anchor, anchor, app, ...), each run in a fresh
browser context; prints per step the medians and their ratio (app / anchor), in
milliseconds, with the ratio's 90 % bootstrap interval (bench/stats.py). The
development provider and both apps start on free ports and stop at the end.

In the same run, a bare Reflex app (bench/bare_reflex: one page whose on_load sets
one value) has its reload timed the same way: the floor that Reflex's own start-up
sets for the signed-in reload (--no-floor skips it).

The page timestamps its own milestones (a script added to every document
watches the DOM and notes the animation frame in which each one shows, or the
document's first contentful paint if that comes later: a button or heading can
be parsed while the stylesheet still holds back the first frame), and clicks
are made by the page at a noted time, so neither Playwright's polling nor its
click machinery is counted. A step starts at the click, or for a page
load at the browser's own navigation start. "Interactive" asks the same of both
apps: would a click on Sign in start the sign-in now (React has hydrated the
button, or it submits a form to a sign-in route, which needs no script).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from anchor import anchor_server, missing
from harness import ROOT, app_with_provider, in_turns
from latency import relay
from playwright.sync_api import sync_playwright
from stats import percentile, ratio_cell

from tests.support.app_server import AppServer, free_port
from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS

STEPS = [
    "cold load to an interactive Sign in",
    "click Sign in to leaving for the provider",
    "provider form submitted to claims visible",
    "signed-in reload to claims visible",
    "Sign out to the signed-out page",
]

# Milestones, each noted once per document, in epoch milliseconds. __PROBES__ is the target's.
MILESTONES = """
(() => {
  const seen = (window.__seen = {});
  const now = () => performance.timeOrigin + performance.now();
  const button = (name) => [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === name);
  // Whether a click on button `b` would start a sign-in now: React has hydrated it (its props
  // are attached, so its handler runs), or it submits a form to a sign-in route (which the
  // browser does without any script); and it takes clicks.
  const startsSignIn = (b) => {
    if (!b || b.disabled || b.hasAttribute("data-loading")) return false;
    const hydrated = Object.keys(b).some((k) => k.startsWith("__reactProps$"));
    const submits = b.type === "submit" && !!b.form && new URL(b.form.action).pathname.endsWith("/sign-in");
    return (hydrated || submits) && getComputedStyle(b).pointerEvents !== "none";  // the cheap tests first
  };
  // The document's first contentful paint: before it, nothing is on screen to see or click.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if (entry.name === "first-contentful-paint") window.__painted = performance.timeOrigin + entry.startTime;
  }).observe({ type: "paint", buffered: true });
  const probes = __PROBES__;
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


@dataclass(frozen=True)
class Target:
    """One app under test: its button labels and how its page shows each milestone."""

    name: str
    sign_in: str
    sign_out: str
    probes: str  # a JS object literal of name -> () => bool
    claims: str  # Playwright selectors, waited for first (they outlast navigations)
    signed_out: str


APP = Target(
    "this app", "Sign in", "Sign out",
    """{
      // Reflex renders the button disabled / loading until its state has arrived; a page
      // rendered per request shows it at once, in a form that starts the sign-in without a
      // script (until the tab is live, a click goes to that form's route).
      sign_in: () => startsSignIn(button("Sign in")),
      claims: () => [...document.querySelectorAll("h1, h2, h3, h4")].some((h) => h.textContent.includes("Demo User")),
      signed_out: () => !!document.body && document.body.textContent.includes("You are not signed in."),
    }""",
    ':is(h1, h2, h3, h4):has-text("Demo User")', 'text=You are not signed in.',
)
ANCHOR = Target(
    "Next.js + @logto/next", "Sign In", "Sign Out",
    """{
      // Server-rendered, its button's onClick calls the Server Action: a click starts the
      // sign-in once React has hydrated it (it is in no form).
      sign_in: () => startsSignIn(button("Sign In")),
      claims: () => !!document.querySelector("table#claims"),
      // The home page again, signed out: the Sign In button, no claims.
      signed_out: () => !!button("Sign In") && !document.querySelector("table#claims"),
    }""",
    "table#claims", 'button:text-is("Sign In")',
)


FLOOR = "reload to the value visible: a bare Reflex page, on_load sets one value"


def mark(page, name: str) -> float:
    """When milestone `name` was on screen: the frame that showed it, or the first paint if later."""
    page.wait_for_function(f"window.__seen && window.__seen.{name} && window.__painted", timeout=20_000)
    return page.evaluate(f"Math.max(window.__seen.{name}, window.__painted)")


def navigation_start(page) -> float:
    return page.evaluate("performance.timeOrigin")


def fresh_page(browser, target: Target):
    """A page in a new browser context, its milestones noted: (context, page)."""
    context = browser.new_context()
    context.add_init_script(MILESTONES.replace("__PROBES__", target.probes))
    return context, context.new_page()


def open_and_click(page, target: Target, base: str, provider_origin: str) -> dict[str, float]:
    """The first two steps, on a page of a fresh context: a cold load, then Sign in."""
    run = {}
    page.goto(base, wait_until="commit")
    run[STEPS[0]] = mark(page, "sign_in") - navigation_start(page)

    with page.expect_request(lambda r: "/oidc/auth" in r.url) as leaving:
        clicked = page.evaluate(CLICK, target.sign_in)
    page.wait_for_url(f"{provider_origin}/**", wait_until="commit")
    run[STEPS[1]] = leaving.value.timing["startTime"] - clicked  # both epoch milliseconds
    return run


def one_run(browser, target: Target, base: str, provider_origin: str) -> dict[str, float]:
    """The five steps, in a fresh context, milliseconds each."""
    context, page = fresh_page(browser, target)
    run = open_and_click(page, target, base, provider_origin)

    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.wait_for_load_state()
    clicked = page.evaluate(CLICK, "Sign in")  # the provider's form
    page.locator(target.claims).first.wait_for(timeout=20_000)
    run[STEPS[2]] = mark(page, "claims") - clicked

    page.reload(wait_until="commit")
    page.locator(target.claims).first.wait_for(timeout=20_000)
    run[STEPS[3]] = mark(page, "claims") - navigation_start(page)

    clicked = page.evaluate(CLICK, target.sign_out)
    page.locator(target.signed_out).first.wait_for(timeout=20_000)  # after the provider's end-session page
    run[STEPS[4]] = mark(page, "signed_out") - clicked
    context.close()
    return run


def reload_time(browser, url: str) -> float:
    """A page that shows "Demo User" in a heading (the bare page, or a rendered one) loaded once,
    then reloaded (as the signed-in reload): milliseconds to the heading."""
    context, page = fresh_page(browser, APP)
    page.goto(url)
    page.locator(APP.claims).first.wait_for(timeout=20_000)
    page.reload(wait_until="commit")
    page.locator(APP.claims).first.wait_for(timeout=20_000)
    took = mark(page, "claims") - navigation_start(page)
    context.close()
    return took


@contextlib.contextmanager
def bare_reflex_app():
    """bench/bare_reflex in production mode, with the demo's frontend lock, on a free port."""
    project = Path(tempfile.mkdtemp(prefix="bench-bare-reflex-"))
    shutil.copytree(ROOT / "bench" / "bare_reflex", project, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".web"))
    shutil.copytree(ROOT / "reflex.lock", project / "reflex.lock")
    port = free_port()
    app = AppServer({"REFLEX_ENV_FILE": "/nonexistent"}, port, project / "app.log", project=project)
    try:
        app.wait_until_up()
        yield app.url
    finally:
        app.stop()


def network(rtt_ms: float):
    """The chromium flags for a network with this round-trip time (bench/latency.py); none for loopback's."""
    return relay(rtt_ms) if rtt_ms else contextlib.nullcontext([])


def main(runs: int, anchor_dir: Path | None, floor: bool = True, rtt_ms: float = 0) -> None:
    if anchor_dir is not None and (why := missing(anchor_dir)):
        sys.exit(why)
    targets = [APP, ANCHOR] if anchor_dir else [APP]
    timings = {target.name: {step: [] for step in STEPS} for target in targets}
    floors: list[float] = []
    with app_with_provider("bench") as (provider, app_base):
        with _maybe_anchor(anchor_dir, provider) as anchor_base, \
                (bare_reflex_app() if floor else contextlib.nullcontext()) as bare_base:
            bases = {APP.name: app_base, ANCHOR.name: anchor_base}
            with network(rtt_ms) as network_flags, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *network_flags])
                for run_number in range(runs + 1):
                    for target in in_turns(targets, run_number):
                        run = one_run(browser, target, bases[target.name], provider.origin)
                        if run_number > 0:
                            for step, milliseconds in run.items():
                                timings[target.name][step].append(milliseconds)
                    if bare_base:
                        took = reload_time(browser, bare_base)
                        if run_number > 0:
                            floors.append(took)
                browser.close()
    if rtt_ms:
        print(f"(every connection of the browser {rtt_ms:g} ms round trip away: bench/latency.py)")
    if anchor_dir is None:
        print("(app only: give --anchor DIR or BENCH_ANCHOR to time the Next.js anchor in the same run)")
        print("| step | median ms | p95 ms | runs |")
        print("|------|----------:|-------:|-----:|")
        for step, samples in timings[APP.name].items():
            print(f"| {step} | {statistics.median(samples):.0f} | {percentile(samples, 0.95):.0f} | {len(samples)} |")
        if floors:
            print(f"| {FLOOR} | {statistics.median(floors):.0f} | {percentile(floors, 0.95):.0f} | {len(floors)} |")
        return
    print(f"| step | {APP.name} median (p95) | {ANCHOR.name} median (p95) | ratio (90 % interval) | runs each |")
    print("|------|------:|------:|------:|------:|")
    for step in STEPS:
        ours, theirs = timings[APP.name][step], timings[ANCHOR.name][step]
        print(f"| {step} | {statistics.median(ours):.0f} ({percentile(ours, 0.95):.0f}) | "
              f"{statistics.median(theirs):.0f} ({percentile(theirs, 0.95):.0f}) | {ratio_cell(ours, theirs)} | {len(ours)} |")
    if floors:
        reload = timings[APP.name][STEPS[3]]
        print(f"\n{FLOOR}: {statistics.median(floors):.0f} ms median ({percentile(floors, 0.95):.0f} p95), "
              f"{len(floors)} runs; the signed-in reload is {statistics.median(reload) / statistics.median(floors):.2f}x it")


def _maybe_anchor(anchor_dir: Path | None, provider):
    """The anchor's server signing in with `provider` (its base URL), or nothing without a build dir."""
    if anchor_dir is None:
        return contextlib.nullcontext()
    log = Path(tempfile.mkdtemp(prefix="bench-anchor-")) / "next.log"
    return anchor_server(anchor_dir, provider, log)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--anchor", type=Path, default=os.environ.get("BENCH_ANCHOR") or None,
                        help="the Next.js anchor's build dir (default: $BENCH_ANCHOR; none: the app alone)")
    parser.add_argument("--no-floor", action="store_true", help="don't time the bare Reflex page")
    parser.add_argument("--rtt", type=float, default=0, help="the browser's round-trip time to every server, ms "
                        "(bench/latency.py; default: loopback's)")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.anchor.resolve() if arguments.anchor else None, floor=not arguments.no_floor,
         rtt_ms=arguments.rtt)
