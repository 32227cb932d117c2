"""reflex-logto as a Reflex plugin: one line in rxconfig.py in place of `setup(app)`.

    config = rx.Config(app_name="myapp", plugins=[reflex_logto.LogtoPlugin(protect_all_pages=True)])

Reflex runs `register_route` once per app, after the app's own pages are
collected and before any is evaluated, in every process that compiles or
serves the app: the same moment `setup(app)` would have run, with every page
already known. An app page at the callback route replaces the package's.
"""

from __future__ import annotations

from typing import Any

from reflex_base.plugins.base import Plugin
from reflex_base.registry import RegistrationContext

from reflex_logto.reflex.components import callback_page


class LogtoPlugin(Plugin):
    """Sign-in for the app this config builds; takes `setup`'s keyword arguments."""

    def __init__(self, **setup_options: Any):
        self.setup_options = setup_options

    def register_route(self, **context: Any) -> None:
        from reflex_logto.reflex.setup import setup
        from reflex_logto.reflex.state import AuthState

        options = dict(self.setup_options)
        page = options.pop("callback_page", callback_page)
        config = setup(RegistrationContext.get().app, callback_page=None, **options)
        if page is not None and not context["has_app_page"](config.callback_path):
            context["add_page"](page, route=config.callback_path, title="Signing in", on_load=AuthState.finish_sign_in)
