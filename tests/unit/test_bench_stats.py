"""The statistics bench/browser.py and bench/ab.py print: what a reader of bench/RESULTS.md trusts."""

import random
import statistics

import pytest

from bench.stats import percentile, ratio_interval


def test_percentile_is_an_observed_value_by_nearest_rank():
    samples = [float(n) for n in range(10, 0, -1)]
    assert percentile(samples, 0.5) == 5
    assert percentile(samples, 0.95) == 10
    assert percentile(samples, 0.0) == 1
    assert percentile([7.0], 0.95) == 7


def test_a_ratio_with_no_spread_has_no_interval():
    assert ratio_interval([60.0] * 20, [40.0] * 20) == (1.5, 1.5)


def test_the_interval_holds_the_ratio_and_widens_with_the_spread():
    draw = random.Random(1)
    theirs = [draw.gauss(70, 3) for _ in range(20)]
    ours_tight = [draw.gauss(63, 3) for _ in range(20)]
    ours_loose = [draw.gauss(63, 25) for _ in range(20)]
    ratio = statistics.median(ours_tight) / statistics.median(theirs)

    low, high = ratio_interval(ours_tight, theirs)
    loose_low, loose_high = ratio_interval(ours_loose, theirs)

    assert low < ratio < high < 1.0  # 63 / 70 = 0.9: clearly below 1.0 when the spread is small
    assert loose_high - loose_low > 2 * (high - low)


def test_a_narrower_level_lies_inside_a_wider_one_and_a_run_gives_one_interval():
    draw = random.Random(2)
    ours = [draw.uniform(40, 110) for _ in range(20)]
    theirs = [draw.uniform(60, 80) for _ in range(20)]

    half = ratio_interval(ours, theirs, level=0.5)
    ninety = ratio_interval(ours, theirs, level=0.9)

    assert ninety[0] < half[0] < half[1] < ninety[1]
    assert ratio_interval(ours, theirs) == ninety


def test_about_nine_runs_in_ten_hold_the_true_ratio():
    """Runs of 20 drawn where the true ratio of medians is 0.8: the 90 % interval holds it in
    about 90 % of them (a one-sided draw, or a ratio upside down, would not)."""
    draw = random.Random(3)
    held = 0
    for seed in range(300):
        theirs = [70 * draw.lognormvariate(0, 0.3) for _ in range(20)]
        ours = [56 * draw.lognormvariate(0, 0.3) for _ in range(20)]
        low, high = ratio_interval(ours, theirs, resamples=400, seed=seed)
        held += low <= 0.8 <= high
    assert 0.8 <= held / 300 <= 0.97


def test_samples_come_one_of_each_per_round():
    with pytest.raises(ValueError):
        ratio_interval([1.0, 2.0], [1.0])
