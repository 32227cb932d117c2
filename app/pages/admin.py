"""/admin: a page, and a handler, for users with the `admin` role only."""

import reflex as rx

from reflex_logto import protected

from ..admin_state import AdminState
from ..components import page_frame


def admin_overview() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Admin", size="5"),
            rx.cond(
                AdminState.active_sessions >= 0,
                rx.text("Live sessions right now: ", rx.code(AdminState.active_sessions)),
                rx.text("Loading…"),
            ),
            rx.link("← Home", href="/"),
            spacing="3",
        ),
        width="100%",
    )


def admin() -> rx.Component:
    return page_frame(protected(admin_overview, role="admin")())
