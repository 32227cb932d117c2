import os

import reflex as rx
from reflex import constants

redis_mode = bool(os.environ.get("REFLEX_REDIS_URL"))

config = rx.Config(
    app_name="app",
    # Tab state: in Redis with several workers (REFLEX_REDIS_URL), otherwise in memory.
    # Nothing in it needs to outlive the process (each page load reads the session
    # again), and Reflex's default on-disk store costs twice the CPU per event
    # (bench/heartbeat.py).
    state_manager_mode=constants.StateManagerMode.REDIS if redis_mode else constants.StateManagerMode.MEMORY,
    # In memory, a tab's state goes 15 minutes after its last event (an open signed-in tab
    # ticks every second). Redis renews a state's expiry only when that state changes, so
    # it keeps Reflex's hour: the heartbeat usually writes nothing.
    redis_token_expiration=constants.Expiration.TOKEN if redis_mode else 15 * 60,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Solid panels: Radix's translucent ones blur what is behind every card and table (64 px),
    # which made each frame of the claims page cost 80-140 ms to draw where the GPU doesn't
    # (bench/RESULTS.md, round 9); on this plain background they look the same.
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="large", panel_background="solid"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
