"""The profile page's own data: what this app records about the user."""

from datetime import UTC, datetime

import reflex as rx

import reflex_logto

from .directory import directory


class ProfileState(reflex_logto.AuthState):
    last_sign_in: str = ""
    """When the user last signed in, and how often, from the app's own records."""

    @rx.event
    @reflex_logto.requires_session
    async def load_profile(self, session: reflex_logto.UserSession):
        record = directory().last_sign_in(session.user.sub)
        if record:
            when = datetime.fromtimestamp(record[0], tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
            self.last_sign_in = f"Last signed in {when}; {record[1]} sign-in{'s' if record[1] != 1 else ''} recorded."
        else:
            self.last_sign_in = "No sign-in recorded yet."
