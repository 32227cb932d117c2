"""/: who is signed in, with every claim of their ID token."""

import reflex as rx

from ..auth import AuthState
from ..components import error_callout, loading, page_frame, sign_in_button, sign_out_button
from .account import provider_check_panel, sessions_panel


def user_card() -> rx.Component:
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
            rx.link("Your profile", href="/profile"),
            sign_out_button(),
            align="center",
            spacing="4",
            width="100%",
        ),
        width="100%",
        aria_label="Signed-in user",
    )


def claims_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Claim"),
                rx.table.column_header_cell("Value"),
            )
        ),
        rx.table.body(
            rx.foreach(
                AuthState.claims,
                lambda claim: rx.table.row(
                    rx.table.row_header_cell(rx.code(claim["key"], variant="ghost")),
                    rx.table.cell(
                        rx.text(claim["value"], word_break="break-all"),
                        rx.cond(
                            claim["readable"] != "",
                            rx.text(claim["readable"], size="1", color_scheme="gray"),
                        ),
                    ),
                ),
            )
        ),
        variant="surface",
        width="100%",
        aria_label="ID token claims",
    )


def provider_unreachable() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("cloud-off")),
        rx.callout.text(
            "Can't reach the sign-in service. You stay signed in; it will be retried. ",
            rx.button("Retry now", on_click=AuthState.retry_refresh, size="1", variant="soft", margin_left="0.5em"),
        ),
        color_scheme="amber",
        role="alert",
        width="100%",
    )


def signed_in() -> rx.Component:
    return rx.vstack(
        rx.cond(AuthState.provider_unreachable, provider_unreachable()),
        user_card(),
        provider_check_panel(),
        rx.heading("ID token claims", size="4"),
        claims_table(),
        sessions_panel(),
        spacing="4",
        width="100%",
    )


def signed_out() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.cond(
                AuthState.notice != "",
                rx.callout.root(
                    rx.callout.icon(rx.icon("info")),
                    rx.callout.text(AuthState.notice_message),
                    role="status",
                    width="100%",
                ),
            ),
            rx.text("You are not signed in.", size="4", weight="medium"),
            rx.text(
                "Sign in to see your profile and the claims of your ID token.",
                color_scheme="gray",
            ),
            rx.hstack(
                sign_in_button(),
                rx.button("Create account", on_click=AuthState.sign_up, variant="soft", size="3"),
                spacing="3",
            ),
            spacing="3",
            align="start",
        ),
        width="100%",
    )


def home() -> rx.Component:
    return page_frame(
        rx.cond(AuthState.error_code != "", error_callout()),
        rx.cond(
            AuthState.loaded,
            rx.cond(
                AuthState.signed_in,
                signed_in(),
                signed_out(),
            ),
            loading("Loading…"),
        ),
    )
