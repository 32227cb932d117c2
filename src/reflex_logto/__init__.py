"""Logto / OpenID Connect sign-in for Reflex, server-actions style.

    import reflex as rx
    import reflex_logto

    app = rx.App()
    reflex_logto.setup(app)        # config from the environment; routes, /callback, lifespan
    app.add_page(home, on_load=reflex_logto.AuthState.load_session)

    # a page: reflex_logto.sign_in_button(), reflex_logto.user_card()
    # a handler: @rx.event @reflex_logto.requires_session async def h(self, session): ...
"""

from reflex_logto.config import AuthConfig
from reflex_logto.devprovider.options import DevelopmentProvider
from reflex_logto.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidAccessToken,
    ProviderUnavailable,
    SessionEnded,
    SignInError,
    TokenRequestFailed,
)
from reflex_logto.oidc.options import SignInOptions
from reflex_logto.oidc.tokens import TokenSet
from reflex_logto.reflex.access import check_access_rules, public
from reflex_logto.reflex.account_state import AccountState
from reflex_logto.reflex.claims import claim_rows
from reflex_logto.reflex.components import (
    callback_content,
    callback_page,
    error_callout,
    session_heartbeat,
    sign_in_button,
    sign_out_button,
    sign_up_button,
    user_card,
)
from reflex_logto.reflex.guards import has_role, protected, requires_session
from reflex_logto.reflex.messages import message_for
from reflex_logto.reflex.plugin import LogtoPlugin
from reflex_logto.reflex.runtime import get_config
from reflex_logto.reflex.setup import load_config, setup
from reflex_logto.reflex.state import AuthState
from reflex_logto.reflex.user import (
    User,
    UserSession,
    get_access_token,
    get_organization_token,
    get_session,
    get_user,
    live_session_count,
    verify_access_token,
)
from reflex_logto.sessions.stores import HandoffRecord, SessionRecord, Storage, TransactionRecord

__version__ = "0.1.0"

__all__ = [
    "AccountState",
    "AuthConfig",
    "AuthError",
    "AuthState",
    "ConfigurationError",
    "DevelopmentProvider",
    "HandoffRecord",
    "InsufficientScope",
    "InvalidAccessToken",
    "LogtoPlugin",
    "ProviderUnavailable",
    "SessionEnded",
    "SessionRecord",
    "SignInError",
    "SignInOptions",
    "Storage",
    "TokenRequestFailed",
    "TokenSet",
    "TransactionRecord",
    "User",
    "UserSession",
    "callback_content",
    "callback_page",
    "check_access_rules",
    "claim_rows",
    "error_callout",
    "get_access_token",
    "get_config",
    "get_organization_token",
    "get_session",
    "get_user",
    "has_role",
    "live_session_count",
    "load_config",
    "message_for",
    "protected",
    "public",
    "requires_session",
    "session_heartbeat",
    "setup",
    "sign_in_button",
    "sign_out_button",
    "sign_up_button",
    "user_card",
    "verify_access_token",
]
