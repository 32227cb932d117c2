"""/: who is signed in, with every claim of their ID token."""

import reflex as rx

import reflex_logto
from reflex_logto import AuthState

from ..components import loading, page_frame
from .account import provider_check_panel, sessions_panel


def user_card() -> rx.Component:
    return reflex_logto.user_card(rx.link("Your profile", href="/profile"))


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
            rx.hstack(reflex_logto.sign_in_button(), reflex_logto.sign_up_button(), spacing="3"),
            spacing="3",
            align="start",
        ),
        width="100%",
    )


def home() -> rx.Component:
    return page_frame(
        rx.cond(AuthState.error_code != "", reflex_logto.error_callout()),
        rx.cond(
            AuthState.loaded,
            rx.cond(
                AuthState.signed_in,
                signed_in(),
                signed_out(),
            ),
            # (A store that doesn't answer leaves nothing to wait for: the callout says so.)
            rx.cond(AuthState.error_code == "", loading("Loading…")),
        ),
    )
