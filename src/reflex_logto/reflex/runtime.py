"""The one configured sign-in flow of this process, built on first use.

`configure` is called once, when the app module is imported. The HTTP client
and the store's connection are made lazily, in the process that uses them:
Reflex may fork workers after import, and neither survives a fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import httpx

from reflex_logto.config import AuthConfig
from reflex_logto.oidc.client import OidcClient
from reflex_logto.oidc.options import SignInOptions
from reflex_logto.sessions.flow import SignInFlow
from reflex_logto.sessions.hooks import Hooks
from reflex_logto.sessions.stores import Storage, open_storage

_config: AuthConfig | None = None
_backend_url: str | None = None
_transport: httpx.AsyncBaseTransport | None = None
_storage: Storage | Callable[[], Storage] | None = None
_extras: dict = {}
_flow: tuple[int, SignInFlow] | None = None


def configure(
    config: AuthConfig,
    *,
    backend_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
    storage: Storage | Callable[[], Storage] | None = None,
    sign_in_options: Mapping[str, SignInOptions] | None = None,
    hooks: Hooks | None = None,
) -> None:
    """Set the config; `transport` replaces the network (tests use it for hostile providers)."""
    global _config, _backend_url, _transport, _storage, _extras, _flow
    _config, _backend_url, _transport, _storage, _flow = config, backend_url, transport, storage, None
    _extras = {"sign_in_options": sign_in_options, "hooks": hooks}


def get_config() -> AuthConfig:
    """The configured AuthConfig (for pages that show something of it, like a link)."""
    if _config is None:
        raise RuntimeError("reflex_logto is not set up: call reflex_logto.setup(app) first")
    return _config


def page_routes_url() -> str:
    """Where a page's form reaches the auth routes: the prefix alone where they share the
    page's origin (production: the build then holds no host), the backend's URL where dev mode
    splits the halves. Needs no flow."""
    if _config is None or _backend_url is None:
        raise RuntimeError("reflex_logto is not set up: call reflex_logto.setup(app) first")
    same_origin = _backend_url.rstrip("/") == _config.origin
    return _config.routes_prefix if same_origin else _backend_url.rstrip("/") + _config.routes_prefix


def get_flow() -> SignInFlow:
    global _flow
    if _config is None or _backend_url is None:
        raise RuntimeError("reflex_logto is not set up: call reflex_logto.setup(app) first")
    if _flow is None or _flow[0] != os.getpid():
        client = OidcClient(_config, transport=_transport)
        if _storage is None:
            storage = open_storage(_config.session_db_url.reveal() if _config.session_db_url else None, _config.session_db)
        else:
            storage = _storage() if callable(_storage) else _storage
        flow = SignInFlow(_config, client, storage, backend_url=_backend_url, **_extras)
        _flow = (os.getpid(), flow)
    return _flow[1]


async def shutdown() -> None:
    global _flow
    if _flow is not None and _flow[0] == os.getpid():
        await _flow[1].client.aclose()
        await _flow[1].storage.close()
    _flow = None
