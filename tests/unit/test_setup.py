"""setup(app): what it adds to an app, and what it refuses at start-up."""

from __future__ import annotations

import logging

import pytest
import reflex as rx

import reflex_logto
from reflex_logto.reflex.setup import _startup_checks
from tests.support.fake_provider import app_config
from tests.support.reflex_state import auth_route_paths


def test_setup_adds_the_callback_page_at_the_configured_path(fresh_app, op):
    config = app_config(op, callback_path="/auth-return", routes_prefix="/signin")
    reflex_logto.setup(fresh_app, config)
    assert "auth-return" in fresh_app._unevaluated_pages
    assert "finish_sign_in" in repr(fresh_app._load_events["auth-return"])
    routes = auth_route_paths(fresh_app)
    assert "/signin/backchannel-logout" in routes and "/signin/sign-in/{txn_id}" in routes
    _startup_checks(fresh_app, config, object())  # nothing to refuse


def test_an_app_without_a_callback_page_is_refused_at_start_up(fresh_app, op):
    config = app_config(op)
    reflex_logto.setup(fresh_app, config, callback_page=None)
    with pytest.raises(SystemExit, match="reflex-logto: no page at /callback \\(LOGTO_CALLBACK_PATH\\)"):
        _startup_checks(fresh_app, config, object())


def test_an_app_with_an_undeclared_handler_is_refused_at_start_up(fresh_app, op):
    async def export(self):
        pass

    export.__qualname__ = "ReportsState.export"
    type("ReportsState", (reflex_logto.AuthState,), {"__module__": __name__, "export": rx.event(export)})
    config = app_config(op)
    reflex_logto.setup(fresh_app, config)
    with pytest.raises(SystemExit, match="without an access rule: ReportsState.export"):
        _startup_checks(fresh_app, config, object())


def test_a_bad_setting_stops_setup_with_one_line(fresh_app, monkeypatch):
    monkeypatch.setenv("LOGTO_ENDPOINT", "https://tenant.logto.app/oidc")
    for name, value in {"LOGTO_APP_ID": "a", "LOGTO_APP_SECRET": "b", "LOGTO_BASE_URL": "http://localhost:3000",
                        "LOGTO_COOKIE_SECRET": "c" * 32}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        reflex_logto.setup(fresh_app)
    assert str(stopped.value) == (
        "reflex-logto: LOGTO_ENDPOINT is Logto's own URL, without /oidc: set it to 'https://tenant.logto.app' "
        "(the issuer is that plus /oidc)"
    )


def test_debug_lowers_the_packages_level_and_adds_no_handler(fresh_app, op):
    logger = logging.getLogger("reflex_logto")
    handlers = list(logger.handlers)
    reflex_logto.setup(fresh_app, app_config(op, debug=True))
    assert logger.level == logging.DEBUG and logger.handlers == handlers and logger.propagate
    assert logging.getLogger("reflex_logto.oidc.client").getEffectiveLevel() == logging.DEBUG
