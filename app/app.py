"""The demo app: the signed-in user's claims on /, a profile, an admin page, and its own API."""

import logging
from pathlib import Path

import reflex as rx

import reflex_logto

from .admin_state import AdminState
from .api import API_SCOPE, api_routes
from .directory import record_sign_in
from .organization_state import OrganizationState
from .pages.admin import admin
from .pages.callback import callback
from .pages.home import home
from .pages.profile import profile
from .profile_state import ProfileState

# What the demo asks of the bundled development provider, when no provider is configured:
# roles for /admin, its API's scope, and Logto's organizations with their permissions.
DEVELOPMENT = reflex_logto.DevelopmentProvider(
    scopes=(
        "openid", "offline_access", "profile", "email", "roles", "custom_data", "identities", API_SCOPE,
        "urn:logto:scope:organizations", "urn:logto:scope:organization_roles", "read:members", "invite:member",
    ),
    api_resources={"/api": [API_SCOPE]},
    users_file=Path(__file__).with_name("dev_users.json"),
)

# Reflex sets up no Python logging for app code: the sign-in package's lines (at INFO, DEBUG
# with LOGTO_DEBUG=true) go to stderr; everything else stays at WARNING.
logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("reflex_logto").setLevel(logging.INFO)

app = rx.App(api_transformer=api_routes())
# Secure by default: every page added below needs sign-in, but / and /callback.
reflex_logto.setup(
    app, protect_all_pages=True, on_sign_in=record_sign_in, callback_page=callback, development=DEVELOPMENT
)
app.add_page(
    home, route="/", title="Hello Logto",
    on_load=[reflex_logto.AuthState.load_session, reflex_logto.AccountState.load_sessions],
)
app.add_page(
    profile,
    route="/profile",
    title="Your profile",
    on_load=[
        reflex_logto.AccountState.load_sessions,
        reflex_logto.AccountState.check_with_provider,  # user info, as the provider has it now
        ProfileState.load_profile,
        OrganizationState.load_organizations,
    ],
)
app.add_page(admin, route="/admin", title="Admin", on_load=AdminState.load_overview)
