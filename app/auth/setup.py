"""Wiring the sign-in package into a Reflex app: config, routes, lifespan."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Mapping
from pathlib import Path

import reflex as rx
from reflex_base.environment import environment

from . import runtime
from .config import AuthConfig, read_environ
from .errors import ConfigurationError
from .hooks import Hooks, OnSignIn, OnSignOut
from .options import SignInOptions
from .routes import auth_routes

log = logging.getLogger("app.auth")


def load_config(environ: Mapping[str, str] | None = None) -> AuthConfig:
    """The app's AuthConfig; with no provider configured, the development provider's.

    Raises:
        ConfigurationError: a setting is wrong, or no provider is configured in production.
    """
    env = dict(read_environ() if environ is None else environ)
    if not env.get("LOGTO_ENDPOINT", "").strip() and not env.get("OIDC_ISSUER", "").strip():
        if environment.REFLEX_ENV_MODE.get() != rx.constants.Env.DEV:
            raise ConfigurationError(
                "LOGTO_ENDPOINT is not set: production needs a real provider (LOGTO_ENDPOINT or "
                "OIDC_ISSUER); the development provider runs only under `reflex run` in dev mode"
            )
        env.update(_dev_provider_settings(env))
    return AuthConfig.from_env(env)


def _dev_provider_settings(env: Mapping[str, str]) -> dict[str, str]:
    from devprovider.launcher import DevProviderError, app_settings

    base_url = env.get("LOGTO_BASE_URL", "").strip() or _frontend_url()
    owner = env.get("LOGTO_DEV_OWNER_PID", "")
    state_dir = env.get("LOGTO_DEV_STATE_DIR", "").strip() or None
    try:
        settings = app_settings(
            base_url,
            backend_url=_routes_url(base_url),
            owner_pid=int(owner) if owner.isdigit() else None,
            state_dir=Path(state_dir) if state_dir else None,
        )
    except DevProviderError as err:
        raise ConfigurationError(f"the development provider did not start: {err}") from err
    log.info("signing in against the development provider at %s", settings["LOGTO_ENDPOINT"])
    # The demo's admin page needs the user's roles (Logto's `roles` scope), its API demo
    # an access token for the app's own API resource.
    settings["LOGTO_SCOPES"] = env.get("LOGTO_SCOPES", "").strip() or DEV_SCOPES
    settings["LOGTO_RESOURCES"] = env.get("LOGTO_RESOURCES", "").strip() or f"{base_url}/api"
    return settings


def _frontend_url() -> str:
    config = rx.config.get_config()
    return (config.deploy_url or f"http://localhost:{config.frontend_port or 3000}").rstrip("/")


def backend_url(config: AuthConfig) -> str:
    """Where the auth routes live: the app's own origin when one port serves both
    halves (production), the backend's when dev mode splits them."""
    return _routes_url(config.base_url)


def _routes_url(base_url: str) -> str:
    reflex_config = rx.config.get_config()
    if reflex_config.frontend_port and reflex_config.frontend_port == reflex_config.backend_port:
        return base_url.rstrip("/")
    return reflex_config.api_url.rstrip("/")


PUBLIC_ROUTES = ("/", "/callback")

# What the demo asks of the development provider: roles for /admin, the API
# demo's scope, and Logto's organizations with the permissions they grant.
DEV_SCOPES = (
    "openid offline_access profile email roles custom_data identities read:demo "
    "urn:logto:scope:organizations urn:logto:scope:organization_roles read:members invite:member"
)


def setup(
    app: rx.App,
    config: AuthConfig,
    *,
    protect_all_pages: bool = False,
    public_routes: tuple[str, ...] = (),
    sign_in_options: Mapping[str, SignInOptions] | None = None,
    on_sign_in: OnSignIn | None = None,
    on_sign_out: OnSignOut | None = None,
) -> None:
    """Add the auth routes and the client's lifespan to `app`.

    With `protect_all_pages`, every page added afterwards requires sign-in,
    except `/`, `/callback` and `public_routes`: a page added later is
    protected unless someone decides otherwise. `sign_in_options` names the
    ways to sign in that pages may offer (besides "default" and "sign_up");
    `on_sign_in` and `on_sign_out` are the app's hooks.
    """
    runtime.configure(
        config,
        backend_url=backend_url(config),
        sign_in_options=sign_in_options,
        hooks=Hooks(on_sign_in=on_sign_in, on_sign_out=on_sign_out),
    )
    if protect_all_pages:
        _guard_pages_added_later(app, (*PUBLIC_ROUTES, *public_routes))
    transformers = app.api_transformer
    if transformers is None:
        app.api_transformer = auth_routes()
    else:
        existing = list(transformers) if isinstance(transformers, (list, tuple)) else [transformers]
        app.api_transformer = [*existing, auth_routes()]
    app.register_lifespan_task(_client_lifespan)
    _configure_logging(config.debug)
    log.debug("sign-in configured: issuer %s, client %s, base %s", config.issuer, config.client_id, config.base_url)


def _guard_pages_added_later(app: rx.App, public_routes: tuple[str, ...]) -> None:
    from reflex_base.utils.format import format_route

    from .guards import protected
    from .state import AuthState

    public = {format_route(route) for route in public_routes}
    # Every way a page gets in (add_page, @rx.page, plugins) goes through _prepare_page.
    prepare_page = app._prepare_page

    signature = inspect.signature(prepare_page)

    @functools.wraps(prepare_page)
    def prepare_guarded_page(*args, **kwargs):
        page = signature.bind(*args, **kwargs)
        page.apply_defaults()
        component, route, on_load = (page.arguments[k] for k in ("component", "route", "on_load"))
        # Reflex adds its own 404 page (no component) at compile time: never guarded.
        if component is not None and app._page_route_key(component, route) not in public:
            page.arguments["component"] = protected(component)
            extra = list(on_load) if isinstance(on_load, (list, tuple)) else [on_load] if on_load else []
            page.arguments["on_load"] = [AuthState.require_sign_in, *extra]
        return prepare_page(*page.args, **page.kwargs)

    object.__setattr__(app, "_prepare_page", prepare_guarded_page)


def _configure_logging(debug: bool) -> None:
    """Warnings always; with LOGTO_DEBUG, every step of the flow (never a token or secret)."""
    logger = logging.getLogger("app.auth")
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [sign-in] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


@contextlib.asynccontextmanager
async def _client_lifespan():
    yield
    await runtime.shutdown()  # close the HTTP connection pool with the app
