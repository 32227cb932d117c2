import os

import reflex as rx
from reflex import constants

config = rx.Config(
    app_name="app",
    # Tab state: in Redis with several workers (REFLEX_REDIS_URL), otherwise in memory.
    # Nothing in it needs to outlive the process (each page load reads the session
    # again), and Reflex's default on-disk store costs twice the CPU per event
    # (bench/heartbeat.py).
    state_manager_mode=(
        constants.StateManagerMode.REDIS if os.environ.get("REFLEX_REDIS_URL") else constants.StateManagerMode.MEMORY
    ),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="large"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
