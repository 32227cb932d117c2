"""Panels of the home page for a signed-in user: their sessions, and a live token check."""

import reflex as rx

from reflex_logto import AccountState


def session_row(session) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                rx.text(session["device"]),
                rx.cond(session["current"] == "yes", rx.badge("This browser", variant="soft")),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(session["created"]),
        rx.table.cell(session["last_used"]),
        rx.table.cell(
            rx.cond(
                session["current"] == "yes",
                rx.fragment(),
                rx.button(
                    "End",
                    on_click=AccountState.end_session(session["handle"]),
                    variant="soft",
                    color_scheme="red",
                    size="1",
                ),
            )
        ),
    )


def sessions_panel() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Sessions", size="4"),
            rx.spacer(),
            rx.button(
                "End all other sessions",
                on_click=AccountState.end_other_sessions,
                variant="soft",
                size="2",
                disabled=AccountState.sessions.length() < 2,
            ),
            width="100%",
            align="center",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Device"),
                    rx.table.column_header_cell("Signed in"),
                    rx.table.column_header_cell("Last used"),
                    rx.table.column_header_cell(""),
                )
            ),
            rx.table.body(rx.foreach(AccountState.sessions, session_row)),
            variant="surface",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def provider_check_panel() -> rx.Component:
    return rx.hstack(
        rx.button(
            "Check with the sign-in service",
            on_click=AccountState.check_with_provider,
            loading=AccountState.pending == "check",
            variant="soft",
            size="2",
        ),
        rx.text(AccountState.provider_check, size="2", color_scheme="gray", role="status"),
        spacing="3",
        align="center",
        width="100%",
    )
