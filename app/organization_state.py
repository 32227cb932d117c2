"""The profile page's organizations: the user's, an active one, and its organization token."""

import reflex as rx

import reflex_logto

MAX_ID_LENGTH = 128


class OrganizationState(reflex_logto.AuthState):
    organizations: list[dict[str, str]] = []
    """The user's organizations (ID token `organizations`) and their roles there (`organization_roles`)."""
    active_organization: str = ""
    """The organization the user switched to."""
    organization_claims: list[dict[str, str]] = []
    """The active organization token's claims (its roles' permissions are in `scope`)."""
    organization_error: str = ""

    @rx.event
    @reflex_logto.requires_session
    async def load_organizations(self, session: reflex_logto.UserSession):
        roles = session.user.claims.get("organization_roles")
        roles = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
        self.organizations = [
            {"id": org, "roles": ", ".join(r.split(":", 1)[1] for r in roles if r.startswith(f"{org}:"))}
            for org in session.user.organizations
        ]

    @rx.event
    @reflex_logto.requires_session
    async def switch_organization(self, organization_id: str, session: reflex_logto.UserSession):
        """Make one of the user's organizations the active one and show its organization token."""
        if not isinstance(organization_id, str) or not 0 < len(organization_id) <= MAX_ID_LENGTH:
            return
        self.organization_error = ""
        if organization_id not in session.user.organizations:
            self.organization_error = "You are not a member of that organization."
            return
        try:
            token = await session.organization_token(organization_id)
            claims = await reflex_logto.verify_access_token(
                token, resource=f"urn:logto:organization:{organization_id}", organization_id=organization_id
            )
        except reflex_logto.SessionEnded:
            self.organization_error = "Your session has ended."
            return
        except (reflex_logto.SignInError, reflex_logto.InvalidAccessToken, ValueError):
            self.organization_error = "The sign-in service did not give a valid organization token."
            return
        self.active_organization = organization_id
        self.organization_claims = reflex_logto.claim_rows(claims)
