"""The statistics the benchmarks print: an observed percentile, and how sure a ratio of medians is."""

from __future__ import annotations

import math
import random
import statistics


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1): an observed value, right for few samples too."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def ratio_interval(ours: list[float], theirs: list[float], *, level: float = 0.9,
                   resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval for median(ours) / median(theirs), from one run's samples.

    The benchmarks take turns, so the i-th sample of each comes from the same round: a
    round is drawn as a whole, as many as there were, with replacement, `resamples`
    times, and the interval holds the middle `level` of the ratios of the medians. It
    says how sure the ratio is within the run; between runs the machine drifts by more
    than that (bench/RESULTS.md, round 9). Seeded: one run's samples give one interval.
    """
    if len(ours) != len(theirs):
        raise ValueError("one sample of each per round")
    draw = random.Random(seed)
    rounds = range(len(ours))
    ratios = []
    for _ in range(resamples):
        drawn = draw.choices(rounds, k=len(rounds))
        ratios.append(statistics.median([ours[i] for i in drawn]) / statistics.median([theirs[i] for i in drawn]))
    ratios.sort()
    tail = (1 - level) / 2
    return percentile(ratios, tail), percentile(ratios, 1 - tail)


def ratio_cell(ours: list[float], theirs: list[float]) -> str:
    """median(ours) / median(theirs) and its 90 % interval, as the tables print it."""
    low, high = ratio_interval(ours, theirs)
    return f"{statistics.median(ours) / statistics.median(theirs):.2f} ({low:.2f}–{high:.2f})"
