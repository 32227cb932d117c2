"""/callback: finishes sign-in while it says so, or says clearly why it could not."""

import reflex as rx

from ..auth import AuthState
from ..components import error_callout, loading, page_frame, sign_in_button


def callback() -> rx.Component:
    return page_frame(
        rx.cond(
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
        ),
    )
