"""One page; its on_load sets the value the heading shows."""

import reflex as rx


class PageState(rx.State):
    name: str = ""

    @rx.event
    def load(self):
        self.name = "Demo User"


def index() -> rx.Component:
    return rx.container(rx.cond(PageState.name != "", rx.heading(PageState.name, size="6"), rx.spinner()))


app = rx.App()
app.add_page(index, route="/", on_load=PageState.load)
