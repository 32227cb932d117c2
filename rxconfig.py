import os

import reflex as rx

# The process that runs `reflex run` loads this file first; the development
# provider, if the app starts one, stops when that process does.
os.environ.setdefault("LOGTO_DEV_OWNER_PID", str(os.getpid()))

config = rx.Config(
    app_name="app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="large"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
