"""Ready-made pieces for the app's pages: the buttons, the user's card, the callback page.

Each reads only AuthState's public vars (what the tab may show) and calls its
handlers; none holds a token.
"""

from __future__ import annotations

import reflex as rx

from reflex_logto.reflex.state import AuthState


def sign_in_button(label: str = "Sign in", **props) -> rx.Component:
    """Calls `AuthState.sign_in`; spins until the tab leaves for the provider."""
    return rx.button(label, on_click=AuthState.sign_in, loading=AuthState.pending == "sign_in", **{"size": "3", **props})


def sign_up_button(label: str = "Create account", **props) -> rx.Component:
    """Calls `AuthState.sign_up`: the provider's sign-up screen first."""
    return rx.button(label, on_click=AuthState.sign_up, **{"variant": "soft", "size": "3", **props})


def sign_out_button(label: str = "Sign out", **props) -> rx.Component:
    """Calls `AuthState.sign_out`; spins until the tab leaves for the provider's sign-out."""
    return rx.button(
        label, on_click=AuthState.sign_out, loading=AuthState.pending == "sign_out",
        **{"variant": "outline", "size": "3", **props},
    )


class _Ticker(rx.Fragment):
    """Calls `on_tick` once a second while mounted; renders nothing and loads no library
    (a date library's timer is a lazily loaded script that held up the signed-in page)."""

    on_tick: rx.EventHandler[rx.event.no_args_event_spec]  # type: ignore[type-arg]  # Reflex reads the spec here

    def _exclude_props(self) -> list[str]:
        return [*super()._exclude_props(), *self.event_triggers]

    def add_hooks(self) -> list[str | rx.Var]:
        tick = rx.Var.create(self.event_triggers["on_tick"])
        return [
            rx.Var(
                f"useEffect(() => {{ const tick = {tick}; const timer = setInterval(() => tick(), 1000); "
                "return () => clearInterval(timer); }, []);"
            )
        ]


def session_heartbeat() -> rx.Component:
    """Ticks every second while signed in: a sign-out elsewhere shows within two, and the
    access token is refreshed before it expires. Put it on every page (protected pages have it)."""
    return rx.cond(AuthState.signed_in, _Ticker.create(on_tick=AuthState.heartbeat))


def loading(text: str) -> rx.Component:
    return rx.hstack(rx.spinner(size="3"), rx.text(text, size="3"), align="center", spacing="3", role="status")


def error_callout() -> rx.Component:
    """Why sign-in failed, in a sentence; the provider's own words when it sent some (escaped)."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(AuthState.error_message),
        rx.cond(
            AuthState.provider_error != "",
            rx.callout.text(rx.text("The sign-in service said: ", AuthState.provider_error, size="2")),
        ),
        color_scheme="red",
        role="alert",
        width="100%",
    )


def user_card(*children: rx.Component) -> rx.Component:
    """The signed-in user: picture, name, email and id, then `children`, then Sign out."""
    return rx.card(
        rx.hstack(
            rx.avatar(src=AuthState.user_picture, fallback="?", size="6", radius="full"),
            rx.vstack(
                rx.heading(AuthState.user_name, size="5"),
                rx.text(AuthState.user_email, color_scheme="gray"),
                rx.code(AuthState.user_sub, variant="ghost", size="1"),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            *children,
            sign_out_button(),
            align="center",
            spacing="4",
            width="100%",
        ),
        width="100%",
        aria_label="Signed-in user",
    )


def callback_content() -> rx.Component:
    """What /callback shows: "Signing in..." while the code is exchanged, or why it failed and Try again."""
    return rx.cond(
        AuthState.error_code != "",
        rx.vstack(
            rx.heading("Sign-in did not finish", size="5"),
            error_callout(),
            rx.hstack(
                sign_in_button("Try again"),
                rx.link(rx.button("Back to home", variant="soft", size="3"), href="/"),
                spacing="3",
            ),
            spacing="4",
            width="100%",
            align="start",
        ),
        loading("Signing in..."),
    )


def callback_page() -> rx.Component:
    """The default /callback page that `setup` adds (pass your own as `callback_page=`)."""
    return rx.center(
        rx.box(callback_content(), width="100%", max_width="640px"),
        padding_x="1.25em",
        padding_y="3em",
        width="100%",
    )
