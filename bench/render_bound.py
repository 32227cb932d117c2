"""What rendering each page on the server would give the signed-in reload, measured, not built.

    .venv/bin/python bench/render_bound.py [--runs 20] [--anchor /tmp/next-anchor]

Reflex builds each page once, before anyone asks for it, so the claims show only once the
app's scripts have run. A page rendered per request shows them as its HTML is parsed, as the
Next.js anchor's does. This takes the signed-in home page as the browser has it once the
claims show (React's output, and the rules emotion inserted written into their <style>
elements), removes its scripts, and serves it
beside the build's files (the same stylesheet, cached the same way). Its reload, timed as
bench/browser.py times the signed-in reload, is the bound for the same page rendered per
request: its HTML costs what the app's page costs to paint, with no script before the
claims. The same again without the app's stylesheet (Radix Themes', 700 KB) tells what of the
rest is styling: a bound, not a page one would ship. In the same run, alternating, this app's
own reload and, with --anchor, the anchor's.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import shutil
import statistics
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from anchor import anchor_server, missing
from browser import ANCHOR, APP, CLICK, MILESTONES, STEPS, mark, one_run, reload_time
from harness import ROOT, app_with_provider
from playwright.sync_api import sync_playwright
from stats import percentile

from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS

RELOAD = STEPS[3]
SCRIPTS = re.compile(rb"<script\b[^>]*>.*?</script>|<link\b[^>]*rel=\"modulepreload\"[^>]*>", re.DOTALL)
STYLESHEETS = re.compile(rb"<link\b[^>]*rel=\"stylesheet\"[^>]*>")
RENDERED, UNSTYLED = "this app's page, rendered (no scripts)", "... and without its stylesheet"


# The document's HTML with each <style> holding the rules it has: emotion's production build
# inserts its rules into the sheet (insertRule), which leaves the element's text empty.
WITH_INSERTED_RULES = """() => {
  for (const style of document.querySelectorAll("style")) {
    if (style.sheet) style.textContent = [...style.sheet.cssRules].map((rule) => rule.cssText).join("\\n");
  }
  return "<!DOCTYPE html>" + document.documentElement.outerHTML;
}"""


def rendered_page(browser, base: str, provider_origin: str) -> bytes:
    """The signed-in home page as the browser shows it, its scripts removed."""
    context = browser.new_context()
    context.add_init_script(MILESTONES.replace("__PROBES__", APP.probes))
    page = context.new_page()
    page.goto(base, wait_until="commit")
    mark(page, "sign_in")
    page.evaluate(CLICK, APP.sign_in)
    page.wait_for_url(f"{provider_origin}/**", wait_until="commit")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.evaluate(CLICK, "Sign in")
    page.locator(APP.claims).first.wait_for(timeout=20_000)
    html = page.evaluate(WITH_INSERTED_RULES).encode()
    context.close()
    return SCRIPTS.sub(b"", html)


class _Files(SimpleHTTPRequestHandler):
    """The build's files as the app serves them: hashed names cached for a year."""

    def end_headers(self) -> None:
        if self.path.startswith("/assets/"):
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(page: bytes):
    """The page at /rendered.html (and without its stylesheet at /unstyled.html), beside the
    build's /assets, on a free port; yields the first's URL."""
    directory = Path(tempfile.mkdtemp(prefix="bench-rendered-"))
    (directory / "rendered.html").write_bytes(page)
    (directory / "unstyled.html").write_bytes(STYLESHEETS.sub(b"", page))
    (directory / "assets").symlink_to(ROOT / ".web" / "build" / "client" / "assets")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/rendered.html"
    finally:
        server.shutdown()
        shutil.rmtree(directory)  # the page shows the demo user's claims


def main(runs: int, anchor_dir: Path | None) -> None:
    if anchor_dir is not None and (why := missing(anchor_dir)):
        raise SystemExit(why)
    reloads: dict[str, list[float]] = {"this app": [], RENDERED: [], UNSTYLED: [], ANCHOR.name: []}
    with app_with_provider("bench") as (provider, base), contextlib.ExitStack() as stack:
        anchor_base = None
        if anchor_dir is not None:
            log = Path(tempfile.mkdtemp(prefix="bench-anchor-")) / "next.log"
            anchor_base = stack.enter_context(anchor_server(anchor_dir, provider, log))
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        url = stack.enter_context(serving(rendered_page(browser, base, provider.origin)))
        for run in range(runs + 1):  # the first round warms the servers and is not counted
            timed = {
                "this app": one_run(browser, APP, base, provider.origin)[RELOAD],
                RENDERED: reload_time(browser, url),
                UNSTYLED: reload_time(browser, url.replace("rendered.html", "unstyled.html")),
            }
            if anchor_base:
                timed[ANCHOR.name] = one_run(browser, ANCHOR, anchor_base, provider.origin)[RELOAD]
            if run:
                for name, took in timed.items():
                    reloads[name].append(took)
        browser.close()
    print("| signed-in reload to claims visible | median ms | p95 ms | runs |")
    print("|------------------------------------|----------:|-------:|-----:|")
    for name, samples in reloads.items():
        if samples:
            print(f"| {name} | {statistics.median(samples):.0f} | {percentile(samples, 0.95):.0f} | {len(samples)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--anchor", type=Path, default=os.environ.get("BENCH_ANCHOR") or None)
    arguments = parser.parse_args()
    main(arguments.runs, arguments.anchor.resolve() if arguments.anchor else None)
