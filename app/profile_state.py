"""The profile page's own data: what this app records about the user."""

from datetime import datetime, timezone

import reflex as rx

from .auth import AuthState, requires_session
from .directory import directory


class ProfileState(AuthState):
    last_sign_in: str = ""
    """When the user last signed in, and how often, from the app's own records."""

    @rx.event
    @requires_session
    async def load_profile(self):
        session = await self._session()
        record = directory().last_sign_in(session.sub) if session else None
        if record:
            when = datetime.fromtimestamp(record[0], tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            self.last_sign_in = f"Last signed in {when}; {record[1]} sign-in{'s' if record[1] != 1 else ''} recorded."
        else:
            self.last_sign_in = "No sign-in recorded yet."
