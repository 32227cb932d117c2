"""What an app asks of the bundled development provider (used only when no provider is configured)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class DevelopmentProvider:
    """The development provider's setup for this app; a real provider ignores all of it.

    With none given, it signs in a sample user (`demo` / `demo-password`)
    with the default scopes.
    """

    scopes: Sequence[str] = ()
    """Scopes to ask for (LOGTO_SCOPES, if set, wins); empty: the default set."""
    api_resources: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    """APIs to register, {indicator: scopes}; an indicator starting with "/" is a path
    under the app's base URL. They are also asked for (LOGTO_RESOURCES, if set, wins)."""
    users_file: str | Path | None = None
    """A JSON file of users (and organization roles) instead of the sample user; see the
    package's `devprovider/users.json` for its shape."""
