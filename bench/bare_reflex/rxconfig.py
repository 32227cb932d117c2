"""A bare Reflex app, the floor for a page load: one page whose on_load sets one value
(bench/browser.py times its reload beside the signed-in reload of the demo)."""

import reflex as rx
from reflex import constants

config = rx.Config(
    app_name="bare",
    state_manager_mode=constants.StateManagerMode.MEMORY,  # as the demo with one worker
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="large"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
