"""Protecting pages and handlers.

Page markup is public in Reflex: a guard decides what a page *shows*, while
protected data must come from handlers that check the session themselves.
`requires_session` makes that the easy path.

    @rx.event
    @reflex_logto.requires_session(role="admin")
    async def load_reports(self, session: reflex_logto.UserSession): ...

    app.add_page(reflex_logto.protected(reports), route="/reports", on_load=reflex_logto.AuthState.require_sign_in)

or, secure by default: `reflex_logto.setup(app, protect_all_pages=True)` guards
every page, added before or after, except the public ones.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import reflex as rx

from reflex_logto.reflex.access import SESSION, mark
from reflex_logto.reflex.user import UserSession


def has_role(claims: dict[str, Any], role: str) -> bool:
    """Whether the ID token's `roles` claim (Logto's `roles` scope) names `role`."""
    roles = claims.get("roles")
    return isinstance(roles, list) and role in roles


SESSION_PARAMETER = "session"


def requires_session(handler: Callable | None = None, *, role: str | None = None):
    """Run the handler only while the caller's cookie names a live session (with `role`, if given).

    Otherwise the handler does nothing (without a session, the tab shows
    signed out). A handler with a parameter named `session` is handed the
    caller's `UserSession`; the browser can't send that argument. Use on
    handlers of AuthState subclasses, under `@rx.event`; not on background
    handlers, which change state only inside `async with self`.
    """

    def decorate(fn: Callable) -> Callable:
        if getattr(fn, "_background", False) or getattr(fn, "background", False):
            raise TypeError(f"requires_session can't guard the background handler {fn.__name__}")
        signature = inspect.signature(fn)
        wants_session = SESSION_PARAMETER in signature.parameters

        @functools.wraps(fn)
        async def guarded(self, *args: Any, **kwargs: Any):
            kwargs.pop(SESSION_PARAMETER, None)  # never the browser's to send
            record = await self._session()
            if record is None or (role is not None and not has_role(record.claims, role)):
                return
            if wants_session:
                kwargs[SESSION_PARAMETER] = UserSession.of(record)
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

        if wants_session:
            # What Reflex reads to map the browser's arguments: everything but `session`.
            guarded.__signature__ = signature.replace(
                parameters=[p for name, p in signature.parameters.items() if name != SESSION_PARAMETER]
            )
            guarded.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != SESSION_PARAMETER}
        return mark(guarded, SESSION)

    return decorate(handler) if handler is not None else decorate


def protected(
    page: Callable[[], rx.Component] | rx.Component, *, role: str | None = None
) -> Callable[[], rx.Component]:
    """A page that renders only for a signed-in visitor (with `role`, if given)."""
    from reflex_logto.reflex.state import AuthState

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
    from reflex_logto.reflex.state import AuthState

    return rx.vstack(
        rx.cond(AuthState.error_code != "", rx.callout.root(rx.callout.text(AuthState.error_message), color_scheme="red", role="alert")),
        rx.cond(AuthState.notice != "", rx.callout.root(rx.callout.text(AuthState.notice_message), role="status")),
        rx.text("This page needs you to sign in."),
        rx.button("Sign in", on_click=AuthState.sign_in, loading=AuthState.pending == "sign_in"),
        spacing="3",
        align="start",
    )
