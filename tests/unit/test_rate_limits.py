"""The sign-in start limiter, with the time passed in: no socket, no clock."""

import pytest

from reflex_logto.reflex import rate_limits
from reflex_logto.reflex.rate_limits import (
    MAX_TRACKED,
    SIGN_IN_STARTS_PER_MINUTE,
    WINDOW,
    SlidingWindowLimiter,
    allow_sign_in_start,
)


@pytest.fixture
def fresh_counts(monkeypatch):
    limiter = SlidingWindowLimiter(SIGN_IN_STARTS_PER_MINUTE, WINDOW, MAX_TRACKED)
    monkeypatch.setattr(rate_limits, "sign_in_starts", limiter)
    return limiter


def test_ten_a_minute_then_refused_until_the_first_is_a_minute_old():
    assert (SIGN_IN_STARTS_PER_MINUTE, WINDOW, MAX_TRACKED) == (10, 60.0, 10_000)
    limiter = SlidingWindowLimiter(10, 60, 100)
    assert all(limiter.allow(["page"], 1000 + n) for n in range(10))  # one a second
    assert not limiter.allow(["page"], 1010)
    assert not limiter.allow(["page"], 1059.9)
    assert limiter.allow(["page"], 1060)  # the first (at 1000) left the window
    assert not limiter.allow(["page"], 1060.5)
    assert limiter.allow(["page"], 1061)


def test_refused_attempts_do_not_count():
    limiter = SlidingWindowLimiter(2, 60, 100)
    assert limiter.allow(["page"], 0) and limiter.allow(["page"], 1)
    for n in range(1000):  # hammering while refused doesn't push the end of the wait
        assert not limiter.allow(["page"], 2 + n / 100)
    assert limiter.allow(["page"], 61)


def test_a_start_counts_against_each_key_and_either_refuses():
    limiter = SlidingWindowLimiter(2, 60, 100)
    assert limiter.allow(["connection-1", "tab-1"], 0)
    assert limiter.allow(["connection-2", "tab-1"], 1)
    assert not limiter.allow(["connection-3", "tab-1"], 2)  # the tab is at its limit on any connection
    assert limiter.allow(["connection-3", "tab-2"], 3)  # ...and the refusal counted for neither key
    assert limiter.allow(["connection-3", "tab-3"], 4)
    assert not limiter.allow(["connection-3", "tab-4"], 5)  # one connection, ever new tabs
    assert limiter.allow(["connection-4"], 5) and limiter.allow([], 5)


def test_memory_is_bounded_and_the_least_recently_seen_is_forgotten():
    limiter = SlidingWindowLimiter(2, 60, 3)
    assert limiter.allow(["a"], 0) and limiter.allow(["a"], 0)
    for key in ("b", "c"):
        limiter.allow([key], 1)
    assert not limiter.allow(["a"], 2)  # seen, so kept
    for key in ("d", "e", "f"):
        limiter.allow([key], 3)
    assert len(limiter) == 3
    assert limiter.allow(["a"], 4)  # forgotten: a flood of new keys forgets, never refuses
    for n in range(100):
        limiter.allow([f"new-{n}"], 5)
    assert len(limiter) == 3
    assert all(len(times) <= 2 for times in limiter._times.values())


def test_sign_in_starts_count_per_connection_and_per_tab(fresh_counts):
    for n in range(SIGN_IN_STARTS_PER_MINUTE):
        assert allow_sign_in_start("sid-1", f"token-{n}", 100.0)
    assert not allow_sign_in_start("sid-1", "another-token", 100.0)  # the connection's limit
    assert allow_sign_in_start("sid-2", "token-0", 100.0)  # same tab, new connection: the tab has one so far
    assert allow_sign_in_start("token-0", "sid-1", 100.0)  # a connection's id and a tab's never mix
    assert allow_sign_in_start("sid-1", "another-token", 100.0 + WINDOW)


def test_without_ids_nothing_is_counted(fresh_counts):
    assert all(allow_sign_in_start("", "", 100.0) for _ in range(100))
    assert len(fresh_counts) == 0
