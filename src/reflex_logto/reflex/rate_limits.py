"""How often one page may start a sign-in: counted in this process, in bounded memory.

Each start stores a sign-in transaction (`sessions/transactions.py`), so a
script on one websocket could store thousands a second. A start counts
against the websocket connection (Reflex's `router.session.session_id`) and
the tab (its `client_token`, the same across the tab's page loads); one
sent by a page's Sign in form (before the tab is live) against the browser's
sign-in cookie, or its address without one. Beyond
`SIGN_IN_STARTS_PER_MINUTE` within the last minute for any, the start is
refused and nothing is stored. A person clicks Sign in a few times a minute
at most.

The counts live in one process and forget the least recently seen of
`MAX_TRACKED` pages: a flood of new connections makes them forget, never
refuse, a real page; what bounds that flood is the store's own cap. Pure:
the caller passes the time (a monotonic clock).
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable

SIGN_IN_STARTS_PER_MINUTE = 10  # per websocket connection, and per tab
WINDOW = 60.0  # seconds
MAX_TRACKED = 10_000  # connections and tabs counted at once; the least recently seen is forgotten first


class SlidingWindowLimiter:
    """At most `limit` events per key within any `window` seconds, for the `max_keys` most recently seen keys."""

    def __init__(self, limit: int, window: float, max_keys: int):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._times: dict[Hashable, list[float]] = {}  # least recently seen first; each list ascending, <= limit long

    def __len__(self) -> int:
        return len(self._times)

    def allow(self, keys: Iterable[Hashable], now: float) -> bool:
        """Count one event against every key, unless one of them is at its limit; whether it was counted.

        A refused event is not counted: the keys are free again a window after their last allowed one.
        """
        keys = list(dict.fromkeys(keys))
        recent = {}
        for key in keys:
            times = self._times.get(key, [])
            times = times[bisect.bisect_right(times, now - self.window):]
            if len(times) >= self.limit:
                return False
            recent[key] = times
        for key, times in recent.items():
            self._times.pop(key, None)  # re-inserted: now the most recently seen
            self._times[key] = [*times, now]
        while len(self._times) > self.max_keys:
            del self._times[next(iter(self._times))]
        return True

    def clear(self) -> None:
        self._times.clear()


sign_in_starts = SlidingWindowLimiter(SIGN_IN_STARTS_PER_MINUTE, WINDOW, MAX_TRACKED)
"""This process's count of sign-in starts."""


def allow_sign_in_start(session_id: str, client_token: str, now: float) -> bool:
    """Whether this connection and tab may start a sign-in at `now` (and count it if so).

    An empty id is not counted (a state driven without a socket, as in tests): Reflex sets the
    connection's id itself, from the socket, so a real one is always counted; the tab token is
    the browser's choice, hence both.
    """
    keys = [(kind, value) for kind, value in (("connection", session_id), ("tab", client_token)) if value]
    return sign_in_starts.allow(keys, now)


def allow_page_sign_in_start(binding: str | None, address: str, now: float) -> bool:
    """Whether a page's form may start a sign-in at `now` (and count it if so): counted per the
    browser's sign-in cookie (`binding`), or per its `address` where it has none yet."""
    return sign_in_starts.allow([("browser", binding) if binding else ("address", address)], now)
