"""The signed-in user, for the app's own handlers: frozen values, resolved from the cookie.

    @rx.event
    @reflex_logto.requires_session
    async def load_reports(self, session: reflex_logto.UserSession):
        token = await session.access_token("https://api.example.com")
        self.owner = session.user.name
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reflex_logto.errors import SessionEnded
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.sessions.store import Session

if TYPE_CHECKING:
    from reflex_logto.reflex.state import AuthState


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclasses.dataclass(frozen=True)
class User:
    """Who is signed in, from the ID token the provider signed (claims as of the last refresh)."""

    sub: str
    """The user's id at the provider."""
    claims: Mapping[str, Any]
    """Every claim of the ID token."""
    name: str
    """`name`, else `username`, else `email`, else `sub`."""
    email: str | None
    roles: tuple[str, ...]
    """Logto's `roles` claim (the `roles` scope)."""
    organizations: tuple[str, ...]
    """Logto's `organizations` claim (the `urn:logto:scope:organizations` scope)."""
    acting_party: str | None
    """Who acts for the user (impersonation), if anyone."""

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], acting_party: str | None = None) -> User:
        email = claims.get("email")
        email = str(email) if email else None
        return cls(
            sub=str(claims["sub"]),
            claims=dict(claims),
            name=str(claims.get("name") or claims.get("username") or email or claims["sub"]),
            email=email,
            roles=_strings(claims.get("roles")),
            organizations=_strings(claims.get("organizations")),
            acting_party=acting_party,
        )


@dataclasses.dataclass(frozen=True)
class UserSession:
    """The caller's live session: the user, and the tokens only the server holds."""

    user: User
    handle: str
    """A public name for this session (the sessions list shows it; it opens nothing)."""
    created_at: float
    last_used_at: float
    expires_at: float
    record: Session = dataclasses.field(repr=False)
    """The store's record (internal)."""

    @classmethod
    def of(cls, record: Session) -> UserSession:
        return cls(
            user=User.from_claims(record.claims, record.acting_party),
            handle=record.handle,
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            expires_at=record.expires_at,
            record=record,
        )

    async def access_token(self, resource: str | None = None) -> str:
        """An access token: for an API of LOGTO_RESOURCES (cached, renewed when due), or with no
        `resource`, the sign-in's own (for the provider's userinfo endpoint).

        Raises:
            ValueError: `resource` is not in LOGTO_RESOURCES.
            SessionEnded: the session ended meanwhile.
            ProviderUnavailable: the token was due and the provider can't be reached.
            TokenRequestFailed: the provider refused a token for this API.
        """
        lifecycle = get_flow().lifecycle
        if resource is None:
            return (await lifecycle.fresh_tokens(self.record)).access_token
        return await lifecycle.access_token_for(self.record, resource)

    async def organization_token(self, organization_id: str) -> str:
        """An organization token (Logto) for one of the user's organizations.

        Raises:
            ValueError: the user is not a member. Otherwise as `access_token`.
        """
        return await get_flow().lifecycle.organization_token(self.record, organization_id)

    async def userinfo(self) -> dict[str, Any]:
        """What the provider's userinfo endpoint says of the user now (Logto: custom_data, identities)."""
        tokens = await get_flow().lifecycle.fresh_tokens(self.record)
        return await get_flow().client.userinfo(tokens.access_token, expected_sub=self.user.sub)


async def get_session(state: AuthState) -> UserSession | None:
    """The live session behind the caller's cookie, re-read from the store (never from tab state).

    Without one, the tab is updated to show signed out.
    """
    record = await state._session()
    return UserSession.of(record) if record is not None else None


async def get_user(state: AuthState) -> User | None:
    """The signed-in user behind the caller's cookie, or None."""
    session = await get_session(state)
    return session.user if session is not None else None


async def require_session(state: AuthState) -> UserSession:
    """As `get_session`, but raise `SessionEnded` without one."""
    session = await get_session(state)
    if session is None:
        raise SessionEnded("signed_out")
    return session


async def verify_access_token(
    token: str, *, resource: str, required_scopes: tuple[str, ...] | list[str] = (), organization_id: str | None = None
) -> dict[str, Any]:
    """The claims of a JWT access token sent to the app's own API, checked against the provider's keys.

    Raises:
        InvalidAccessToken: answer 401. InsufficientScope: answer 403.
    """
    return await get_flow().client.verify_access_token(
        token, resource=resource, required_scopes=required_scopes, organization_id=organization_id
    )


async def live_session_count() -> int:
    """How many sessions are live right now, over all users (for an admin's overview)."""
    return await get_flow().sessions.count_live()


async def get_access_token(state: AuthState, resource: str) -> str:
    """An access token for one of LOGTO_RESOURCES, for the session behind the caller's cookie.

    Raises:
        SessionEnded: no live session (the tab now shows signed out). Otherwise as
            `UserSession.access_token`.
    """
    return await (await require_session(state)).access_token(resource)


async def get_organization_token(state: AuthState, organization_id: str) -> str:
    """An organization token for one of the user's organizations (ValueError for any other)."""
    return await (await require_session(state)).organization_token(organization_id)
