"""The demo admin page's data: loaded only for a signed-in user with the `admin` role."""

import reflex as rx

from .auth import AuthState, requires_session
from .auth.runtime import get_flow


class AdminState(AuthState):
    active_sessions: int = -1
    """How many sessions are live right now (-1: not loaded, or not allowed)."""

    @rx.event
    @requires_session(role="admin")
    async def load_overview(self):
        """Only for admins: the guard re-checks the session and its roles first."""
        self.active_sessions = await get_flow().sessions.count_live()
