"""Wiring the sign-in package into a Reflex app: config, routes, pages, lifespan, start-up checks."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import reflex as rx
from reflex_base.environment import environment
from reflex_base.utils.format import format_route
from starlette.applications import Starlette
from starlette.types import ASGIApp

from reflex_logto.config import AuthConfig, read_environ
from reflex_logto.devprovider.options import DevelopmentProvider
from reflex_logto.errors import ConfigurationError
from reflex_logto.oidc.options import SignInOptions
from reflex_logto.reflex import runtime, tab_state  # tab_state: its TabOwner state joins the tree on import
from reflex_logto.reflex.access import check_access_rules
from reflex_logto.reflex.asset_cache import cache_hashed_assets, registration_wrap
from reflex_logto.reflex.browser_binding import bind_on_pages
from reflex_logto.reflex.components import callback_page as default_callback_page
from reflex_logto.reflex.cookies import CookiePolicy
from reflex_logto.reflex.first_state import carry_first_state, first_state_wrap
from reflex_logto.reflex.hardening import hardening_transformers
from reflex_logto.reflex.log_redaction import install_log_redaction
from reflex_logto.reflex.rendering import rendering
from reflex_logto.reflex.routes import auth_routes
from reflex_logto.sessions.hooks import Hooks, OnSignIn, OnSignOut
from reflex_logto.sessions.stores import Storage

log = logging.getLogger(__name__)
PACKAGE_LOGGER = "reflex_logto"


def load_config(
    environ: Mapping[str, str] | None = None, *, development: DevelopmentProvider | None = None
) -> AuthConfig:
    """The app's AuthConfig, from the environment and `.env`; with no provider configured
    (in dev mode), the development provider's, started if need be.

    Raises:
        ConfigurationError: a setting is wrong, no provider is configured in production,
            or the development provider can't start.
    """
    env = dict(read_environ() if environ is None else environ)
    if not env.get("LOGTO_ENDPOINT", "").strip() and not env.get("OIDC_ISSUER", "").strip():
        if environment.REFLEX_ENV_MODE.get() != rx.constants.Env.DEV:
            raise ConfigurationError(
                "LOGTO_ENDPOINT is not set: production needs a real provider (LOGTO_ENDPOINT or "
                "OIDC_ISSUER); the development provider runs only under `reflex run` in dev mode"
            )
        env.update(_dev_provider_settings(env, development or DevelopmentProvider()))
    config = AuthConfig.from_env(env)
    log.info("signing in with the provider at %s (app %s)", config.issuer, config.client_id)
    return config


def _dev_provider_settings(env: Mapping[str, str], development: DevelopmentProvider) -> dict[str, str]:
    from reflex_logto.devprovider.launcher import DevProviderError, app_settings

    base_url = env.get("LOGTO_BASE_URL", "").strip() or _frontend_url()
    owner = env.get("LOGTO_DEV_OWNER_PID", "")
    state_dir = env.get("LOGTO_DEV_STATE_DIR", "").strip() or None
    try:
        settings = app_settings(
            base_url,
            backend_url=_routes_url(base_url),
            owner_pid=int(owner) if owner.isdigit() else _reflex_run_pid(),
            state_dir=Path(state_dir) if state_dir else None,
            users_file=Path(development.users_file) if development.users_file else None,
            api_resources=development.api_resources,
            callback_path=env.get("LOGTO_CALLBACK_PATH", "").strip() or "/callback",
            routes_prefix=env.get("LOGTO_ROUTES_PREFIX", "").strip() or "/auth",
        )
    except (DevProviderError, OSError) as err:
        raise ConfigurationError(f"the development provider did not start: {err}") from err
    # Said on the terminal: the one thing to know about a run with nothing configured.
    print(
        f"reflex-logto: no LOGTO_ENDPOINT set, signing in against the development provider at "
        f"{settings['LOGTO_ENDPOINT']} (user demo / demo-password)",
        file=sys.stderr,
        flush=True,
    )
    if development.scopes and not env.get("LOGTO_SCOPES", "").strip():
        settings["LOGTO_SCOPES"] = " ".join(development.scopes)
    if development.api_resources and not env.get("LOGTO_RESOURCES", "").strip():
        settings["LOGTO_RESOURCES"] = " ".join(
            base_url.rstrip("/") + indicator if indicator.startswith("/") else indicator
            for indicator in development.api_resources
        )
    return settings


def _reflex_run_pid() -> int:
    """The process the development provider lives as long as, by default: `reflex run` itself.

    Under `reflex run` the app is imported in worker processes it starts (the compile pool,
    then one backend worker per hot reload); the provider must outlive them, or a hot reload
    stops it (its sessions and tokens are in memory).
    """
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid else os.getpid()


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


def setup(
    app: rx.App,
    config: AuthConfig | None = None,
    *,
    storage: Storage | Callable[[], Storage] | None = None,
    protect_all_pages: bool = False,
    public_routes: tuple[str, ...] = (),
    callback_page: Callable[[], rx.Component] | None = default_callback_page,
    sign_in_options: Mapping[str, SignInOptions] | None = None,
    on_sign_in: OnSignIn | None = None,
    on_sign_out: OnSignOut | None = None,
    development: DevelopmentProvider | None = None,
    max_tab_states: int = tab_state.DEFAULT_MAX_TAB_STATES,
    cache_assets: bool = True,
    render_pages: bool = True,
) -> AuthConfig:
    """Add sign-in to `app`: the cookie routes, the callback page, the HTTP client's lifespan.

    With no `config`, it is read from the environment (`load_config`); a bad
    setting then stops the app with one line naming it. `storage` replaces the
    session store the config names (a Storage, or a function that opens one in
    each worker process). `callback_page` renders the callback route (None: the
    app adds its own, with `on_load=AuthState.finish_sign_in`). With
    `protect_all_pages`, every page requires sign-in (those added before and
    after), except `/`, the callback and `public_routes`. `sign_in_options` names the ways to
    sign in that pages may offer (besides "default" and "sign_up");
    `on_sign_in` and `on_sign_out` are the app's hooks. `max_tab_states` caps the
    tab states one worker keeps in memory (the least recently used go first).
    `cache_assets` registers a service worker that keeps the build's content-hashed
    files in Cache Storage (production only; `asset_cache.py` says why). `render_pages` renders
    each page with its first state, in a Node.js process beside each worker (production only;
    `rendering.py` says why). Returns the config.
    """
    if config is None:
        try:
            config = load_config(development=development)
        except ConfigurationError as err:
            # One line naming the setting, not a traceback: this is the user's to fix.
            raise SystemExit(f"reflex-logto: {err}") from None
    # Nothing logged from here on, Reflex's own lines included, carries the cookies' values.
    policy = CookiePolicy.from_config(config)
    install_log_redaction((policy.session_name, policy.binding_name, policy.result_name))
    runtime.configure(
        config,
        backend_url=backend_url(config),
        storage=storage,
        sign_in_options=sign_in_options,
        hooks=Hooks(on_sign_in=on_sign_in, on_sign_out=on_sign_out),
    )
    if protect_all_pages:
        _guard_pages(app, ("/", config.callback_path, *public_routes))
    if callback_page is not None:
        from reflex_logto.reflex.state import AuthState

        app.add_page(callback_page, route=config.callback_path, title="Signing in", on_load=AuthState.finish_sign_in)
    transformers = app.api_transformer
    existing: list[Starlette | Callable[[ASGIApp], ASGIApp]] = (
        [] if transformers is None else list(transformers) if isinstance(transformers, Sequence) else [transformers]
    )
    # Last is outermost: the security headers, Host-safe redirects and CORS cover every response.
    is_page = functools.partial(_is_page, app)
    app.api_transformer = [
        functools.partial(_startup_checks, app, config), *existing,
        auth_routes(config.routes_prefix, config.callback_path, is_page),
        cache_hashed_assets, bind_on_pages(policy, (config.routes_prefix, config.callback_path)),
        carry_first_state(is_page, functools.partial(_signs_in_on_load, app), (config.routes_prefix, config.callback_path)),
        *hardening_transformers(config),
    ]
    # Every page takes the state its response carried (first_state.py), inside Reflex's state providers.
    app.app_wraps[(3, "LogtoFirstState")] = lambda stateful: first_state_wrap() if stateful else None
    if cache_assets and environment.REFLEX_ENV_MODE.get() != rx.constants.Env.DEV:
        # Every page registers the asset cache; dev mode's pages come from Vite, unhashed.
        app.app_wraps[(4, "LogtoAssetCache")] = lambda stateful: registration_wrap() if stateful else None
    app.register_lifespan_task(_client_lifespan)
    if render_pages and environment.REFLEX_ENV_MODE.get() != rx.constants.Env.DEV:
        app.register_lifespan_task(_rendering_lifespan)
    # A tab's state reaches only a connection with the cookie it was filled for; memory is bounded.
    tab_state.install(app, max_states=max_tab_states)
    if config.debug:
        logging.getLogger(PACKAGE_LOGGER).setLevel(logging.DEBUG)
    log.debug("sign-in configured: issuer %s, client %s, base %s", config.issuer, config.client_id, config.base_url)
    return config


def _startup_checks(app: rx.App, config: AuthConfig, asgi_app: ASGIApp) -> ASGIApp:
    """Run as the backend starts, once every page and state exists: refuse an app that is unsafe
    or can't finish a sign-in, with one line that says why."""
    try:
        check_access_rules()
        if format_route(config.callback_path) not in {format_route(route) for route in app._unevaluated_pages}:
            raise ConfigurationError(
                f"no page at {config.callback_path} (LOGTO_CALLBACK_PATH): pass setup(callback_page=...) or add "
                "one with on_load=AuthState.finish_sign_in"
            )
    except ConfigurationError as err:
        raise SystemExit(f"reflex-logto: {err}") from None
    return asgi_app


def _guard_pages(app: rx.App, public_routes: tuple[str, ...]) -> None:
    """Every page but the public ones requires sign-in: those the app already has, and
    every page added later, whichever way it comes in."""
    from reflex_logto.reflex.guards import protected
    from reflex_logto.reflex.state import AuthState

    public = {format_route(route) for route in public_routes}

    def guarded(component, on_load):
        extra = list(on_load) if isinstance(on_load, (list, tuple)) else [on_load] if on_load else []
        return protected(component), [AuthState.require_sign_in, *extra]

    for route, page in list(app._unevaluated_pages.items()):
        if route not in public and page.component is not None:
            component, on_load = guarded(page.component, page.on_load)
            app._unevaluated_pages[route] = dataclasses.replace(page, component=component, on_load=on_load)
            app._load_events[route] = on_load

    # Every way a page gets in later (add_page, @rx.page, plugins) goes through _prepare_page.
    prepare_page = app._prepare_page
    signature = inspect.signature(prepare_page)

    @functools.wraps(prepare_page)
    def prepare_guarded_page(*args, **kwargs):
        page = signature.bind(*args, **kwargs)
        page.apply_defaults()
        component, route, on_load = (page.arguments[k] for k in ("component", "route", "on_load"))
        # Reflex adds its own 404 page (no component) at compile time: never guarded.
        if component is not None and app._page_route_key(component, route) not in public:
            page.arguments["component"], page.arguments["on_load"] = guarded(component, on_load)
        return prepare_page(*page.args, **page.kwargs)

    object.__setattr__(app, "_prepare_page", prepare_guarded_page)


def _is_page(app: rx.App, path: str) -> bool:
    """Whether the browser path `path` is one of the app's Reflex pages (as `App.get_load_events`
    reads it: under `frontend_path`, matched by the app's router), not a route of its own."""
    frontend_path = rx.config.get_config().frontend_path.rstrip("/")
    if frontend_path:
        if path != frontend_path and not path.startswith(frontend_path + "/"):
            return False
        path = path.removeprefix(frontend_path)
    return app.router(path or "/") is not None


def _signs_in_on_load(app: rx.App, path: str) -> bool:
    """Whether the page at `path` sends a signed-out visitor to sign in as it loads."""
    from reflex_logto.reflex.state import AuthState

    sign_in = AuthState.require_sign_in.fn
    return any(getattr(getattr(e, "handler", e), "fn", None) is sign_in for e in app.get_load_events(path))


def _rendering_lifespan():
    from reflex.utils import path_ops, prerequisites

    node = path_ops.get_node_path()
    return rendering(prerequisites.get_web_dir(), str(node) if node else None)


@contextlib.asynccontextmanager
async def _client_lifespan():
    yield
    await runtime.shutdown()  # close the HTTP connection pool with the app
