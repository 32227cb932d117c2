"""The statistics the benchmarks print: an observed percentile, and how far a ratio of medians can be trusted."""

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
    """A percentile-bootstrap interval for median(ours) / median(theirs).

    Both sample sets are drawn again with replacement, `resamples` times, and the
    interval holds the middle `level` of the ratios of their medians. A ratio of 20
    runs against 20 moves by ±0.1 or more between runs of the same code on this
    machine; the interval says so in the run itself. Seeded: one run's samples give
    one interval.
    """
    draw = random.Random(seed)
    ratios = sorted(
        statistics.median(draw.choices(ours, k=len(ours))) / statistics.median(draw.choices(theirs, k=len(theirs)))
        for _ in range(resamples)
    )
    tail = (1 - level) / 2
    return percentile(ratios, tail), percentile(ratios, 1 - tail)
