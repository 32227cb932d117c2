import reflex as rx

config = rx.Config(app_name="minimal", telemetry_enabled=False, disable_plugins=[rx.plugins.SitemapPlugin],
                   plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="large", panel_background="solid"))])
