"""/callback: the package's "Signing in..." and its errors, inside the demo's frame."""

import reflex as rx

import reflex_logto

from ..components import page_frame


def callback() -> rx.Component:
    return page_frame(reflex_logto.callback_content())
