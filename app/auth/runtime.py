"""The one configured sign-in flow of this process, built on first use.

`configure` is called once, when the app module is imported. The HTTP client
and the store's connection are made lazily, in the process that uses them:
Reflex may fork workers after import, and neither survives a fork.
"""

from __future__ import annotations

import os

import httpx

from collections.abc import Mapping

from .config import AuthConfig
from .hooks import Hooks
from .options import SignInOptions
from .flow import SignInFlow
from .provider import OidcClient
from .storage import open_storage

_config: AuthConfig | None = None
_backend_url: str | None = None
_transport: httpx.AsyncBaseTransport | None = None
_extras: dict = {}
_flow: tuple[int, SignInFlow] | None = None


def configure(
    config: AuthConfig,
    *,
    backend_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
    sign_in_options: Mapping[str, SignInOptions] | None = None,
    hooks: Hooks | None = None,
) -> None:
    """Set the config; `transport` replaces the network (tests use it for hostile providers)."""
    global _config, _backend_url, _transport, _extras, _flow
    _config, _backend_url, _transport, _flow = config, backend_url, transport, None
    _extras = {"sign_in_options": sign_in_options, "hooks": hooks}


def get_config() -> AuthConfig:
    """The configured AuthConfig (for pages that show something of it, like a link)."""
    if _config is None:
        raise RuntimeError("app.auth is not configured: call app.auth.setup(app, config) first")
    return _config


def get_flow() -> SignInFlow:
    global _flow
    if _config is None or _backend_url is None:
        raise RuntimeError("app.auth is not configured: call app.auth.setup(app, config) first")
    if _flow is None or _flow[0] != os.getpid():
        client = OidcClient(_config, transport=_transport)
        storage = open_storage(_config.session_db_url.reveal() if _config.session_db_url else None, _config.session_db)
        flow = SignInFlow(_config, client, storage, backend_url=_backend_url, **_extras)
        _flow = (os.getpid(), flow)
    return _flow[1]


async def shutdown() -> None:
    global _flow
    if _flow is not None and _flow[0] == os.getpid():
        await _flow[1].client.aclose()
        await _flow[1].storage.close()
    _flow = None
