"""Small building blocks shared by the pages."""

import reflex as rx

from .auth import AuthState


def impersonation_banner() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("user-cog")),
        rx.callout.text(rx.code(AuthState.acting_party), " is acting as ", rx.text.strong(AuthState.user_name),
                        " (impersonation)."),
        color_scheme="orange",
        role="alert",
        width="100%",
    )


def heartbeat() -> rx.Component:
    """Ticks every second while signed in: a sign-out elsewhere shows here within two."""
    return rx.cond(AuthState.signed_in, rx.moment(interval=1000, format="X", on_change=AuthState.heartbeat, display="none"))


def page_frame(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.vstack(
            heartbeat(),
            rx.cond(AuthState.acting_party != "", impersonation_banner()),
            rx.hstack(
                rx.heading("Hello Logto", size="7"),
                rx.badge("Reflex", variant="soft", size="2"),
                align="center",
                spacing="3",
            ),
            *children,
            spacing="5",
            width="100%",
            max_width="760px",
        ),
        padding_x="1.25em",
        padding_y="3em",
        width="100%",
    )


def sign_in_button(label: str = "Sign in") -> rx.Component:
    return rx.button(
        label,
        on_click=AuthState.sign_in,
        loading=AuthState.pending == "sign_in",
        size="3",
    )


def sign_out_button() -> rx.Component:
    return rx.button(
        "Sign out",
        on_click=AuthState.sign_out,
        loading=AuthState.pending == "sign_out",
        variant="outline",
        size="3",
    )


def loading(text: str) -> rx.Component:
    return rx.hstack(rx.spinner(size="3"), rx.text(text, size="3"), align="center", spacing="3", role="status")


def error_callout() -> rx.Component:
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
