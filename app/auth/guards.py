"""Protecting pages and handlers.

Page markup is public in Reflex: a guard decides what a page *shows*, while
protected data must come from handlers that check the session themselves.
`requires_session` makes that the easy path.

    @rx.event
    @auth.requires_session(role="admin")
    async def load_reports(self): ...

    app.add_page(auth.protected(reports), route="/reports", on_load=auth.AuthState.require_sign_in)

or, secure by default: `auth.setup(app, config, protect_all_pages=True)` guards
every page added afterwards except the public ones.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import reflex as rx


def has_role(claims: dict[str, Any], role: str) -> bool:
    """Whether the ID token's `roles` claim (Logto's `roles` scope) names `role`."""
    roles = claims.get("roles")
    return isinstance(roles, list) and role in roles


def requires_session(handler: Callable | None = None, *, role: str | None = None):
    """Run the handler only while the caller's cookie names a live session (with `role`, if given).

    Otherwise the handler does nothing: the tab shows signed out (no session)
    or `forbidden` is set (no role). Use on handlers of AuthState subclasses.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        async def guarded(self, *args: Any, **kwargs: Any):
            session = await self._session()
            if session is None:
                return
            if role is not None and not has_role(session.claims, role):
                self.forbidden = True
                return
            self.forbidden = False
            result = fn(self, *args, **kwargs)
            if inspect.isasyncgen(result):
                async for event in result:
                    yield event
            elif inspect.isawaitable(result):
                event = await result
                if event is not None:
                    yield event

        return guarded

    return decorate(handler) if handler is not None else decorate


def protected(page: Callable[[], rx.Component], *, role: str | None = None) -> Callable[[], rx.Component]:
    """A page that renders only for a signed-in visitor (with `role`, if given)."""
    from .state import AuthState

    def guarded_page() -> rx.Component:
        allowed = AuthState.signed_in if role is None else AuthState.signed_in & AuthState.roles.contains(role)
        return rx.cond(
            allowed,
            page(),
            rx.cond(
                AuthState.signed_in & AuthState.loaded,
                rx.vstack(
                    rx.callout.root(
                        rx.callout.text("You don't have access to this page."), color_scheme="red", role="alert"
                    ),
                    rx.link("Back to home", href="/"),
                ),
                rx.hstack(rx.spinner(), rx.text("Checking your sign-in…"), role="status", align="center"),
            ),
        )

    guarded_page.__name__ = page.__name__
    return guarded_page
