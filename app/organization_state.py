"""The profile page's organizations: the user's, an active one, and its organization token."""

import reflex as rx

from .auth import AuthState, get_organization_token, requires_session
from .auth.access_tokens import InvalidAccessToken, verify_access_token
from .auth.errors import SignInError
from .auth.lifecycle import SessionEnded
from .auth.state import claim_rows

MAX_ID_LENGTH = 128


class OrganizationState(AuthState):
    organizations: list[dict[str, str]] = []
    """The user's organizations (ID token `organizations`) and their roles there (`organization_roles`)."""
    active_organization: str = ""
    """The organization the user switched to."""
    organization_claims: list[dict[str, str]] = []
    """The active organization token's claims (its roles' permissions are in `scope`)."""
    organization_error: str = ""

    @rx.event
    @requires_session
    async def load_organizations(self):
        session = await self._session()
        ids = session.claims.get("organizations") if session else None
        roles = session.claims.get("organization_roles") if session else None
        roles = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
        self.organizations = [
            {"id": org, "roles": ", ".join(r.split(":", 1)[1] for r in roles if r.startswith(f"{org}:"))}
            for org in (ids if isinstance(ids, list) else [])
            if isinstance(org, str)
        ]

    @rx.event
    @requires_session
    async def switch_organization(self, organization_id: str):
        """Make one of the user's organizations the active one and show its organization token."""
        if not isinstance(organization_id, str) or not 0 < len(organization_id) <= MAX_ID_LENGTH:
            return
        self.organization_error = ""
        session = await self._session()
        members_of = session.claims.get("organizations") if session else None
        if not isinstance(members_of, list) or organization_id not in members_of:
            self.organization_error = "You are not a member of that organization."
            return
        try:
            token = await get_organization_token(self, organization_id)
            claims = await verify_access_token(
                token, resource=f"urn:logto:organization:{organization_id}", organization_id=organization_id
            )
        except SessionEnded as ended:
            self._show_signed_out(ended.reason)
            return
        except (SignInError, InvalidAccessToken):
            self.organization_error = "The sign-in service did not give a valid organization token."
            return
        self.active_organization = organization_id
        self.organization_claims = claim_rows(claims)
