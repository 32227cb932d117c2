"""The Reflex app: a home page with the signed-in user's claims, and the sign-in callback."""

import reflex as rx

from . import auth
from .admin_state import AdminState
from .api import api_routes
from .directory import record_sign_in
from .organization_state import OrganizationState
from .profile_state import ProfileState
from .static_cache import cache_hashed_assets
from .pages.admin import admin
from .pages.callback import callback
from .pages.home import home
from .pages.profile import profile

try:
    auth_config = auth.load_config()
except auth.ConfigurationError as err:
    # One line naming the setting, not a traceback: this is the user's to fix.
    raise SystemExit(f"Configuration error: {err}") from None

app = rx.App(api_transformer=[api_routes(), cache_hashed_assets])
# Secure by default: every page added below needs sign-in, but / and /callback.
auth.setup(app, auth_config, protect_all_pages=True, on_sign_in=record_sign_in)
app.add_page(home, route="/", title="Hello Logto", on_load=[auth.AuthState.load_session, auth.AccountState.load_sessions])
app.add_page(callback, route="/callback", title="Signing in", on_load=auth.AuthState.finish_sign_in)
app.add_page(
    profile,
    route="/profile",
    title="Your profile",
    on_load=[
        auth.AccountState.load_sessions,
        auth.AccountState.check_with_provider,  # user info, as the provider has it now
        ProfileState.load_profile,
        OrganizationState.load_organizations,
    ],
)
app.add_page(admin, route="/admin", title="Admin", on_load=AdminState.load_overview)
