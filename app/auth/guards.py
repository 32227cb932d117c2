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

    Otherwise the handler does nothing (without a session, the tab shows
    signed out). Use on handlers of AuthState subclasses, under `@rx.event`;
    not on background handlers, which change state only inside `async with self`.
    """

    def decorate(fn: Callable) -> Callable:
        if getattr(fn, "_background", False) or getattr(fn, "background", False):
            raise TypeError(f"requires_session can't guard the background handler {fn.__name__}")

        @functools.wraps(fn)
        async def guarded(self, *args: Any, **kwargs: Any):
            session = await self._session()
            if session is None or (role is not None and not has_role(session.claims, role)):
                return
            result = fn(self, *args, **kwargs)
            if inspect.isasyncgen(result):
                async for event in result:
                    yield event
            elif inspect.isgenerator(result):
                for event in result:
                    yield event
            else:
                event = await result if inspect.isawaitable(result) else result
                if event is not None:
                    yield event

        return guarded

    return decorate(handler) if handler is not None else decorate


def protected(
    page: Callable[[], rx.Component] | rx.Component, *, role: str | None = None
) -> Callable[[], rx.Component]:
    """A page that renders only for a signed-in visitor (with `role`, if given)."""
    from .state import AuthState

    render = page if callable(page) else (lambda: page)

    def guarded_page() -> rx.Component:
        allowed = AuthState.signed_in if role is None else AuthState.signed_in & AuthState.roles.contains(role)
        return rx.cond(
            allowed,
            render(),
            rx.cond(
                AuthState.signed_in,
                rx.vstack(
                    rx.callout.root(
                        rx.callout.text("You don't have access to this page."), color_scheme="red", role="alert"
                    ),
                    rx.link("Back to home", href="/"),
                ),
                rx.cond(AuthState.loaded & (AuthState.pending == ""), _signed_out(), _checking()),
            ),
        )

    guarded_page.__name__ = getattr(page, "__name__", "protected_page")
    return guarded_page


def _checking() -> rx.Component:
    return rx.hstack(rx.spinner(), rx.text("Checking your sign-in…"), role="status", align="center")


def _signed_out() -> rx.Component:
    """Signed out on a protected page (sign-in could not start, or the session ended here)."""
    from .state import AuthState

    return rx.vstack(
        rx.cond(AuthState.error_code != "", rx.callout.root(rx.callout.text(AuthState.error_message), color_scheme="red", role="alert")),
        rx.cond(AuthState.notice != "", rx.callout.root(rx.callout.text(AuthState.notice_message), role="status")),
        rx.text("This page needs you to sign in."),
        rx.button("Sign in", on_click=AuthState.sign_in, loading=AuthState.pending == "sign_in"),
        spacing="3",
        align="start",
    )
