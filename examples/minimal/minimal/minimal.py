import reflex as rx

import reflex_logto
from reflex_logto import AuthState


def index() -> rx.Component:
    signed_in = rx.vstack(rx.text("Signed in as ", rx.text.strong(AuthState.user_name)), reflex_logto.user_card(),
                          rx.link("Open the secret page", href="/secret"), spacing="4", width="100%")
    page = rx.cond(AuthState.signed_in, signed_in, reflex_logto.sign_in_button())
    return rx.container(rx.heading("Minimal sign-in", size="7", margin_bottom="0.75em"), page, padding_y="3em")


def secret() -> rx.Component:
    return rx.container(rx.heading("The secret page", size="7"), rx.link("Back home", href="/"), padding_y="3em")


app = rx.App()
reflex_logto.setup(app)
app.add_page(index, on_load=AuthState.load_session)
app.add_page(reflex_logto.protected(secret), route="/secret", on_load=AuthState.require_sign_in)
