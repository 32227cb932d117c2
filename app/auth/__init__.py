"""Logto / OpenID Connect sign-in for Reflex, server-actions style.

    config = auth.load_config()       # from the environment (and .env)
    app = rx.App()
    auth.setup(app, config)           # backend routes for the HttpOnly cookie
    app.add_page(home, on_load=[auth.AuthState.load_session, auth.AccountState.load_sessions])
    app.add_page(callback, route="/callback", on_load=auth.AuthState.finish_sign_in)
"""

from .account_state import AccountState
from .api_tokens import get_access_token, get_organization_token
from .config import AuthConfig
from .errors import ConfigurationError, SignInError
from .guards import has_role, protected, requires_session
from .messages import message_for
from .options import SignInOptions
from .setup import load_config, setup
from .state import AuthState

__all__ = [
    "AccountState",
    "AuthConfig",
    "AuthState",
    "ConfigurationError",
    "SignInError",
    "SignInOptions",
    "get_access_token",
    "get_organization_token",
    "has_role",
    "load_config",
    "message_for",
    "protected",
    "requires_session",
    "setup",
]
