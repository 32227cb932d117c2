"""The cold load and the click on Sign in alone, many times: bench/browser.py's first two steps,
this app and the Next.js anchor taking turns against one provider, each load in a fresh context.

    .venv/bin/python bench/click.py [--runs 60] [--anchor /tmp/next-anchor]

The click takes some 60 ms, and its ratio to the anchor's, a median of 20 against
20, moved between 0.66 and 1.09 over thirteen runs of the same click
(bench/RESULTS.md, round 9). Sixty each narrow the run's own interval; a run
takes about three minutes and prints both medians, their quartiles, and the
ratio with its 90 % bootstrap interval.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from anchor import anchor_server, missing
from browser import ANCHOR, APP, STEPS, fresh_page, open_and_click
from harness import app_with_provider, in_turns
from playwright.sync_api import sync_playwright
from stats import percentile, ratio_cell

from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS


def main(runs: int, anchor_dir: Path) -> None:
    if why := missing(anchor_dir):
        sys.exit(why)
    targets = [APP, ANCHOR]
    timings = {target.name: {step: [] for step in STEPS[:2]} for target in targets}
    log = Path(tempfile.mkdtemp(prefix="bench-anchor-")) / "next.log"
    with app_with_provider("bench-click") as (provider, app_base), anchor_server(anchor_dir, provider, log) as anchor_base:
        bases = {APP.name: app_base, ANCHOR.name: anchor_base}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for run_number in range(runs + 1):
                for target in in_turns(targets, run_number):
                    context, page = fresh_page(browser, target)
                    run = open_and_click(page, target, bases[target.name], provider.origin)
                    context.close()
                    if run_number > 0:
                        for step, milliseconds in run.items():
                            timings[target.name][step].append(milliseconds)
            browser.close()
    print(f"| step | {APP.name} median (quartiles) | {ANCHOR.name} median (quartiles) | ratio (90 % interval) | runs each |")
    print("|------|------:|------:|------:|------:|")
    for step in STEPS[:2]:
        ours, theirs = timings[APP.name][step], timings[ANCHOR.name][step]
        cells = [f"{statistics.median(s):.0f} ({percentile(s, 0.25):.0f}–{percentile(s, 0.75):.0f})" for s in (ours, theirs)]
        print(f"| {step} | {cells[0]} | {cells[1]} | {ratio_cell(ours, theirs)} | {len(ours)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--anchor", type=Path, default=os.environ.get("BENCH_ANCHOR") or None,
                        help="the Next.js anchor's build dir (default: $BENCH_ANCHOR)")
    arguments = parser.parse_args()
    if arguments.anchor is None:
        parser.error("the anchor's build dir is needed: --anchor DIR or BENCH_ANCHOR (bench/anchor.py says how to build it)")
    main(arguments.runs, arguments.anchor.resolve())
