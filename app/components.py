"""The demo's page frame; the sign-in pieces come from reflex_logto."""

import reflex as rx

import reflex_logto
from reflex_logto import AuthState


def impersonation_banner() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("user-cog")),
        rx.callout.text(rx.code(AuthState.acting_party), " is acting as ", rx.text.strong(AuthState.user_name),
                        " (impersonation)."),
        color_scheme="orange",
        role="alert",
        width="100%",
    )


def page_frame(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.vstack(
            reflex_logto.session_heartbeat(),
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


def loading(text: str) -> rx.Component:
    return rx.hstack(rx.spinner(size="3"), rx.text(text, size="3"), align="center", spacing="3", role="status")
