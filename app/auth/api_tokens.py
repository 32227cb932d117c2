"""For handlers: access tokens for the caller's own session (API resources, organizations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lifecycle import SessionEnded
from .runtime import get_flow

if TYPE_CHECKING:
    from .state import AuthState


async def get_access_token(state: AuthState, resource: str) -> str:
    """An access token for one of LOGTO_RESOURCES, for the session behind this tab's cookie.

    Raises:
        SessionEnded: no live session (the tab now shows signed out).
        ValueError: `resource` is not configured.
        ProviderUnavailable: the token was due and the provider can't be reached.
    """
    session = await state._session()
    if session is None:
        raise SessionEnded("signed_out")
    return await get_flow().lifecycle.access_token_for(session, resource)


async def get_organization_token(state: AuthState, organization_id: str) -> str:
    """An organization token for one of the user's organizations (ValueError for any other)."""
    session = await state._session()
    if session is None:
        raise SessionEnded("signed_out")
    return await get_flow().lifecycle.organization_token(session, organization_id)
