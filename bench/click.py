"""The cold load and the click on Sign in alone, many times: bench/browser.py's first two steps,
this app and the Next.js anchor taking turns against one provider, each load in a fresh context.

    .venv/bin/python bench/click.py [--runs 60] [--anchor /tmp/next-anchor]

The click takes some 60 ms and its median of 20 moves by ±0.15 of the anchor's
between runs of the same code (bench/RESULTS.md): whether it is at, below or above
the anchor's takes more samples than the whole flow can give in one sitting. A
run of 60 each takes about three minutes; it prints both medians, their quartiles,
and the ratio with its 90 % bootstrap interval.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from anchor import missing
from browser import ANCHOR, APP, STEPS, fresh_page, maybe_anchor, open_and_click
from harness import app_with_provider
from playwright.sync_api import sync_playwright
from stats import percentile, ratio_interval

from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS


def main(runs: int, anchor_dir: Path) -> None:
    if why := missing(anchor_dir):
        sys.exit(why)
    targets = [APP, ANCHOR]
    timings = {target.name: {step: [] for step in STEPS[:2]} for target in targets}
    with app_with_provider("bench-click") as (provider, app_base), maybe_anchor(anchor_dir, provider) as anchor_base:
        bases = {APP.name: app_base, ANCHOR.name: anchor_base}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for run_number in range(runs + 1):  # the first round warms the servers and is not counted
                for target in targets if run_number % 2 == 0 else targets[::-1]:
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
        low, high = ratio_interval(ours, theirs)
        quartiles = [f"{statistics.median(s):.0f} ({percentile(s, 0.25):.0f}–{percentile(s, 0.75):.0f})" for s in (ours, theirs)]
        print(f"| {step} | {quartiles[0]} | {quartiles[1]} | "
              f"{statistics.median(ours) / statistics.median(theirs):.2f}x ({low:.2f}–{high:.2f}) | {len(ours)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--anchor", type=Path, default=os.environ.get("BENCH_ANCHOR") or None,
                        help="the Next.js anchor's build dir (default: $BENCH_ANCHOR)")
    arguments = parser.parse_args()
    if arguments.anchor is None:
        parser.error("the anchor's build dir is needed: --anchor DIR or BENCH_ANCHOR (bench/anchor.py says how to build it)")
    main(arguments.runs, arguments.anchor.resolve())
