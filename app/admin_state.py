"""The demo admin page's data: loaded only for a signed-in user with the `admin` role."""

import reflex as rx

import reflex_logto


class AdminState(reflex_logto.AuthState):
    active_sessions: int = -1
    """How many sessions are live right now (-1: not loaded, or not allowed)."""

    @rx.event
    @reflex_logto.requires_session(role="admin")
    async def load_overview(self):
        """Only for admins: the guard re-checks the session and its roles first."""
        self.active_sessions = await reflex_logto.live_session_count()
