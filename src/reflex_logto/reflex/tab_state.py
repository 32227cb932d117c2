"""A tab's Reflex state: only the browser holding its session cookie sees it, and only so many are kept.

Reflex keeps each tab's state under the tab's token, which every websocket URL
carries (so proxy logs keep it), and sends it whole to whoever connects with
that token. `TabStateGuard` runs before every event, the hydrate included: unless
this connection's session cookie is the one the tab's AuthState states were
last used with (and, on a hydrate, names a live session), it resets them
(AuthState and every state derived from it) to their defaults first. On a
hydrate it then shows the session it found, so a page's first state says who
is signed in.
`BoundedStateManagerMemory` caps how many tab states a worker keeps in memory.
`install(app)` wires both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import reflex as rx
from reflex.istate.manager.memory import StateManagerMemory
from reflex.state import BaseState
from reflex_base import constants
from reflex_base.config import get_config
from reflex_base.constants import CompileVars
from reflex_base.event import Event

from reflex_logto.errors import StoreUnavailable
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.reflex.state import AuthState
from reflex_logto.sessions.store import Lookup

log = logging.getLogger(__name__)

DEFAULT_MAX_TAB_STATES = 5_000
"""Tab states one worker keeps in memory at most (an anonymous one is about 26 kB)."""

_DIGEST_CONTEXT = b"reflex-logto tab owner\0"
_EVICTION_WARNING_INTERVAL = 60.0  # seconds


class TabOwner(AuthState):
    """Which session cookie this tab's AuthState states were last used with (backend only).

    A substate of AuthState, so Reflex loads it along with AuthState (from Redis, too).
    """

    _cookie: str | None = None
    """A digest of the session cookie ("" for none); None in a new tab state, or once Redis let this one expire."""
    _written_at: float = 0.0
    """When the guard last wrote this state: now and then, so Redis keeps it as long as the tab is in use."""


def session_cookie(root: BaseState) -> str | None:
    """The session cookie this event's connection sent, read as `AuthState._cookies` does: none
    from a page of another origin. (From `router_data`: `self.router` costs ten times as much.)"""
    headers = root.router_data.get(constants.RouteVar.HEADERS) or {}
    flow = get_flow()
    if headers.get("origin", "") != flow.config.origin:
        return None
    return flow.cookies.session(headers.get("cookie"))


def cookie_digest(session_id: str | None) -> str:
    """What TabOwner keeps of a session cookie: a digest ("" for none)."""
    return hashlib.sha256(_DIGEST_CONTEXT + session_id.encode()).hexdigest() if session_id else ""


def _auth_states(cls: type[BaseState] = AuthState) -> Iterator[type[BaseState]]:
    yield cls
    for sub in cls.get_substates():
        yield from _auth_states(sub)


def _is_hydrate(root: BaseState, event: Event) -> bool:
    name = type(root).get_full_name()
    return event.name in (f"{name}.{CompileVars.HYDRATE_AND_LOAD}", f"{name}.{CompileVars.HYDRATE}")


async def _lookup(session_id: str | None) -> Lookup | None:
    """The session behind this cookie as the store has it now; None if the store doesn't answer."""
    try:
        return await get_flow().sessions.lookup(session_id, touch=False)
    except StoreUnavailable as err:
        log.warning("session lookup before a hydrate failed, the tab state is reset: %s", err)
        return None
    except Exception:
        log.warning("session lookup before a hydrate failed: the tab state is reset", exc_info=True)
        return None


async def reset_auth_states(auth: AuthState) -> None:
    """Reset AuthState and every state derived from it to their defaults, loading any not loaded yet."""
    for cls in _auth_states():
        await auth.get_state(cls)  # with Redis, a state not loaded for this event would keep its data
    auth.reset()


class TabStateGuard(rx.Middleware):
    """Before every event: the tab's AuthState states hold nothing this connection's cookie doesn't entitle it to."""

    def __init__(self) -> None:
        # Redis expires each state's key on its own, a while after its last write.
        self.rewrite_every = get_config().redis_token_expiration / 4

    async def preprocess(self, app: Any, state: BaseState, event: Event) -> None:
        """Reset the tab's AuthState states unless they were last used with this connection's cookie
        (or, on a hydrate, if its session has ended); never stops the event.

        A hydrate also shows who is signed in now, so the page's first state carries it (the
        claims, or the signed-out page) without waiting for its on_load.
        """
        auth = state.substates.get(AuthState.get_name())
        if not isinstance(auth, AuthState):
            return None  # (Redis) this event loads no AuthState: none of its data goes out
        owner = await auth.get_state(TabOwner)
        session_id = session_cookie(state)
        cookie = cookie_digest(session_id)
        now = time.time()
        hydrate = _is_hydrate(state, event)
        lookup = await _lookup(session_id) if hydrate else None
        ended = hydrate and session_id is not None and (lookup is None or lookup.session is None)
        if owner._cookie != cookie or ended:
            await reset_auth_states(auth)
            owner._cookie, owner._written_at = cookie, now
        elif now - owner._written_at > self.rewrite_every:
            owner._written_at = now
        if lookup is not None:
            auth._show_lookup(lookup)
        return None


@dataclasses.dataclass
class BoundedStateManagerMemory(StateManagerMemory):
    """Reflex's in-memory tab states, at most `max_states` of them: past that, the least recently
    used unlocked one goes, as if it had expired (its tab, if still open, is hydrated afresh)."""

    max_states: int = DEFAULT_MAX_TAB_STATES

    _warned_at: float = dataclasses.field(default=0.0, init=False)

    # Reflex 0.10.1 (reflex/istate/manager/memory.py): `_track_token` runs on every read and
    # write of a token's state; `_token_expires_at`, `_states_locks` and `_purge_token` are
    # what its own expiry uses (`_purge_expired_tokens`).
    def _track_token(self, token: Any) -> None:
        self._token_expires_at.pop(token.cache_key, None)  # re-inserted last: least recently used first
        super()._track_token(token)
        if len(self.states) > self.max_states:
            self._evict(keep=token.cache_key)

    def _evict(self, *, keep: str) -> None:
        excess = len(self.states) - self.max_states
        victims: list[Any] = []
        for key, (_, token) in self._token_expires_at.items():
            if len(victims) >= excess:
                break
            lock = self._states_locks.get(token.lock_key)
            if key != keep and not (lock is not None and lock.locked()):
                victims.append(token)
        for token in victims:
            self._purge_token(token)
        if victims and time.monotonic() - self._warned_at > _EVICTION_WARNING_INTERVAL:
            self._warned_at = time.monotonic()
            log.warning(
                "more than %d tab states in memory: dropping the least recently used (raise "
                "max_tab_states, or keep tab states in Redis with REFLEX_REDIS_URL)",
                self.max_states,
            )


def install(app: rx.App, *, max_states: int = DEFAULT_MAX_TAB_STATES) -> None:
    """Guard every event of `app` with `TabStateGuard`, and cap its in-memory tab states at
    `max_states` (the Redis and disk state managers are left as they are). Idempotent."""
    _wire(app, max_states)


def _wire(app: rx.App, max_states: int) -> None:
    # Reflex 0.10.1 has no public setting for the state manager's class: App.__post_init__
    # builds it from rxconfig (app.py:618, StateManager.create) and the event processor takes
    # `app.state_manager` when the backend starts (app.py:774), so it is swapped before then.
    # `_middlewares` is read only to add the guard once.
    if not any(isinstance(m, TabStateGuard) for m in app._middlewares):
        app.add_middleware(TabStateGuard(), index=0)  # first: before any middleware that answers itself
    manager = app._state_manager
    if isinstance(manager, BoundedStateManagerMemory):
        manager.max_states = max_states
    elif type(manager) is StateManagerMemory and not manager.states:
        # mypy reads StateManagerMemory's conditionally redefined methods as abstract; Reflex builds it alike.
        app._state_manager = BoundedStateManagerMemory(  # type: ignore[abstract]
            token_expiration=manager.token_expiration, max_states=max_states
        )
