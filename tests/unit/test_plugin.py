"""LogtoPlugin: the same wiring as setup(app), from rxconfig.py, through Reflex's own plugin hook."""

from __future__ import annotations

import reflex as rx

import reflex_logto
from reflex_logto.reflex import runtime
from tests.support.fake_provider import app_config
from tests.support.reflex_state import auth_route_paths


def test_the_plugin_adds_the_callback_routes_and_guards_the_apps_pages(fresh_app, op):
    fresh_app.add_page(lambda: rx.text("home"), route="/", on_load=reflex_logto.AuthState.load_session)
    fresh_app.add_page(lambda: rx.text("reports"), route="/reports")
    plugin = reflex_logto.LogtoPlugin(config=app_config(op), protect_all_pages=True)
    fresh_app._register_plugin_pages([plugin])
    assert set(fresh_app._unevaluated_pages) == {"index", "reports", "callback"}
    assert "finish_sign_in" in repr(fresh_app._load_events["callback"])
    assert "require_sign_in" in repr(fresh_app._load_events["reports"])
    assert "require_sign_in" not in repr(fresh_app._load_events["index"])
    assert "/auth/sign-in/{txn_id}" in auth_route_paths(fresh_app)
    assert runtime.get_config().issuer == op.issuer


def test_an_app_page_at_the_callback_route_replaces_the_plugins(fresh_app, op):
    def own_callback() -> rx.Component:
        return rx.text("mine")

    fresh_app.add_page(own_callback, route="/callback", on_load=reflex_logto.AuthState.finish_sign_in)
    fresh_app._register_plugin_pages([reflex_logto.LogtoPlugin(config=app_config(op))])
    assert fresh_app._unevaluated_pages["callback"].component is own_callback
