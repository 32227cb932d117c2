"""Names that mean something to Logto in particular (checked against Logto 1.42)."""

from __future__ import annotations

from collections.abc import Iterable

ORGANIZATIONS_SCOPE = "urn:logto:scope:organizations"
"""Asks for the ID token's `organizations` claim, and for organization tokens."""
ORGANIZATIONS_RESOURCE = "urn:logto:resource:organizations"
"""Logto grants organization permissions only to an authorization request that names this
resource; its SDKs add it whenever ORGANIZATIONS_SCOPE is asked for, and so does the app."""
ORGANIZATION_AUDIENCE = "urn:logto:organization:"
"""An organization token's audience is this plus the organization's id (no `organization_id` claim)."""


def authorization_resources(scopes: Iterable[str], resources: Iterable[str]) -> tuple[str, ...]:
    """The `resource` parameters of the authorization request (RFC 8707): the app's APIs, and
    Logto's organizations resource when the organizations scope is asked for."""
    wanted = list(dict.fromkeys(resources))
    if ORGANIZATIONS_SCOPE in scopes and ORGANIZATIONS_RESOURCE not in wanted:
        wanted.append(ORGANIZATIONS_RESOURCE)
    return tuple(wanted)
