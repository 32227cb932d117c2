"""Ready-made pieces for the app's pages: the buttons, the user's card, the callback page.

Each reads only AuthState's public vars (what the tab may show) and calls its
handlers; none holds a token.
"""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from reflex_base.components.tags.tag import CommonTag
from reflex_base.event import EventChain, EventType, no_args_event_spec
from reflex_base.vars import VarData
from reflex_components_core.el.elements.base import BaseHTML

from reflex_logto.reflex.runtime import page_routes_url
from reflex_logto.reflex.state import AuthState

PAGE_FORM_ATTRIBUTE = "data-logto-form"
"""Marks the form of a Sign in or Sign out button: its button takes clicks before the page has
hydrated, and before the tab is live its form does what the handler would."""

# The page's path as the browser shows it (with the app's base path): where a sign-in started
# by the form comes back to, as one started by the handler does.
_RETURN_TO: rx.Var[str] = rx.Var(
    "reflexLogtoReturnTo",
    _var_type=str,
    _var_data=VarData(
        hooks={
            "const reflexLogtoLocation = useLocation();\nconst reflexLogtoReturnTo = "
            "useHref({ pathname: reflexLogtoLocation.pathname, search: reflexLogtoLocation.search });": None
        },
        imports={"react-router": ["useLocation", "useHref"]},
    ),
)


# A click on a Sign in or Sign out button before the tab can call its handler is the form's. A
# sign-in's GET goes by `location.assign`, which starts the navigation in the click's own task,
# where a submitted form waits for a task of its own behind the page's scripts; a sign-out's POST
# is submitted. Until React has hydrated a form, the click is taken before React sees it: React
# would hydrate the whole page at once, to find the click's handler, before the browser could go
# (50 to 120 ms). Before the scripts have run, the browser submits the form itself (no script
# needed). One listener per page, whichever of the app's modules holding a form loads first; the
# first form React has hydrated (or rendered) removes it.
_SUBMIT_EARLY = f"""const reflexLogtoSubmit = (form, button) => {{
  if (button) {{  // taken: no second click, and it shows until the page has left
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }}
  // The attributes, not `form.method` / `form.action`, which a control named so would shadow.
  const action = new URL(form.getAttribute("action"), document.baseURI);
  if (form.getAttribute("method") === "get") window.location.assign(action + "?" + new URLSearchParams(new FormData(form)));
  else HTMLFormElement.prototype.submit.call(form);  // no submit event: this is its handler
  window.__reflexLogtoCacheAssets?.();  // as the handler's way out does (asset_cache.py)
}};
if (typeof window !== "undefined" && !window.__reflexLogtoEarlyClick) {{
  window.__reflexLogtoEarlyClick = (event) => {{
    const button = event.target instanceof Element ? event.target.closest("form[{PAGE_FORM_ATTRIBUTE}] button[type=submit]") : null;
    if (!button || !button.form) return;
    event.stopPropagation();
    event.preventDefault();
    reflexLogtoSubmit(button.form, button);
  }};
  document.addEventListener("click", window.__reflexLogtoEarlyClick, true);
}}"""
_HYDRATED = 'useEffect(() => { document.removeEventListener("click", window.__reflexLogtoEarlyClick, true); }, []);'


class _PageForm(BaseHTML):
    """A <form> the browser submits itself until React has hydrated it (Reflex's rx.form always
    hands its submit to a handler); its onSubmit then decides (`_submit_to`). Sent to the
    route named `route` below the app's auth routes, which takes `verb` only."""

    tag = "form"
    route: ClassVar[str]
    verb: ClassVar[str]

    def _render(self, props: dict[str, Any] | None = None) -> CommonTag:
        # Where the route is, read as the page compiles (after `setup`, which a plugin runs
        # only then), not when the button is made: a page may make it as its module loads.
        return super()._render(props).add_props(action=f"{page_routes_url()}/{self.route}", method=self.verb)

    def add_custom_code(self) -> list[str]:
        return [_SUBMIT_EARLY]

    def add_hooks(self) -> list[str | rx.Var]:
        return [rx.Var(_HYDRATED, _var_data=VarData(imports={"react": ["useEffect"]}))]


class _SignInForm(_PageForm):
    route, verb = "sign-in", "get"  # routes.start_sign_in_from_page


class _SignOutForm(_PageForm):
    route, verb = "sign-out", "post"  # routes.sign_out_from_page


def _submit_to(handler: EventType[()]) -> rx.Var:
    """The form's onSubmit: once the tab's state is live (Reflex's `is_hydrated`: its websocket
    is up and the page's on_load has run), the click goes to `handler`; until then (its event
    would wait behind the websocket and the hydrate), to the form's route."""
    start = rx.Var.create(EventChain.create(handler, args_spec=no_args_event_spec))
    live = rx.State.is_hydrated
    return rx.Var(
        f"((event) => {{ event.preventDefault(); if ({live}) ({start})(); else reflexLogtoSubmit(event.currentTarget, event.nativeEvent.submitter); }})",
        _var_data=VarData.merge(start._get_all_var_data(), live._get_all_var_data()),
    )


def _page_form(form: type[_PageForm], handler: EventType[()], *children: rx.Component) -> rx.Component:
    return form.create(
        *children,
        custom_attrs={PAGE_FORM_ATTRIBUTE: form.route, "onSubmit": _submit_to(handler)},
        display="contents",  # laid out as the button alone
    )


def _sign_in_form(button: rx.Component, handler: EventType[()], option: str) -> rx.Component:
    """`button` in a form that sends the sign-in `handler` would start (`option`) to the start
    route (`routes.start_sign_in_from_page`): a rendered page shows the button before React
    has hydrated it, and a click then still signs in, as it does with no script at all."""
    return _page_form(
        _SignInForm, handler,
        rx.el.input(type="hidden", name="return_to", value=_RETURN_TO),
        rx.el.input(type="hidden", name="option", value=option),
        button,
    )


def sign_in_button(label: str = "Sign in", **props) -> rx.Component:
    """Calls `AuthState.sign_in`; spins until the tab leaves for the provider. Clicked before the
    tab's state is live, it starts the same sign-in at the start route instead."""
    button = rx.button(label, type="submit", loading=AuthState.pending == "sign_in", **{"size": "3", **props})
    return _sign_in_form(button, AuthState.sign_in, "default")


def sign_up_button(label: str = "Create account", **props) -> rx.Component:
    """Calls `AuthState.sign_up`: the provider's sign-up screen first (started at the start
    route, like Sign in's, before the tab's state is live)."""
    button = rx.button(label, type="submit", **{"variant": "soft", "size": "3", **props})
    return _sign_in_form(button, AuthState.sign_up, "sign_up")


def sign_out_button(label: str = "Sign out", **props) -> rx.Component:
    """Calls `AuthState.sign_out`; spins until the tab leaves for the provider's sign-out. Clicked
    before the tab's state is live, its form ends the same session at the sign-out route
    (`routes.sign_out_from_page`), as it does with no script at all."""
    button = rx.button(
        label, type="submit", loading=AuthState.pending == "sign_out", **{"variant": "outline", "size": "3", **props}
    )
    return _page_form(_SignOutForm, AuthState.sign_out, button)


class _Ticker(rx.Fragment):
    """Calls `on_tick` once a second while mounted; renders nothing and loads no library
    (a date library's timer is a lazily loaded script that held up the signed-in page)."""

    on_tick: rx.EventHandler[rx.event.no_args_event_spec]  # type: ignore[type-arg]  # Reflex reads the spec here

    def _exclude_props(self) -> list[str]:
        return [*super()._exclude_props(), *self.event_triggers]

    def add_hooks(self) -> list[str | rx.Var]:
        tick = rx.Var.create(self.event_triggers["on_tick"])
        return [
            rx.Var(
                f"useEffect(() => {{ const tick = {tick}; const timer = setInterval(() => tick(), 1000); "
                "return () => clearInterval(timer); }, []);"
            )
        ]


def session_heartbeat() -> rx.Component:
    """Ticks every second while signed in: a sign-out elsewhere shows within two, and the
    access token is refreshed before it expires. Put it on every page (protected pages have it)."""
    return rx.cond(AuthState.signed_in, _Ticker.create(on_tick=AuthState.heartbeat))


def loading(text: str) -> rx.Component:
    return rx.hstack(rx.spinner(size="3"), rx.text(text, size="3"), align="center", spacing="3", role="status")


def error_callout() -> rx.Component:
    """Why sign-in failed, in a sentence; the provider's own words when it sent some (escaped)."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(AuthState.error_message),
        rx.cond(
            AuthState.provider_error != "",
            rx.callout.text(rx.text("The sign-in service said: ", AuthState.provider_error, size="2")),
        ),
        color_scheme="red",
        role="alert",
        width="100%",
    )


def _user_avatar() -> rx.Component:
    """The first letter of the user's name, under their picture if they have one, as Radix's
    size-6 soft avatar looks.

    Plain elements, so it is in the page's HTML and shows with the first frame, scripts or
    not: Radix's Avatar renders an empty circle until its script has loaded the picture. The
    picture is a background, so one that doesn't load leaves the letter in view, with no
    broken-image mark; its URL is written as a quoted CSS string, escaped, so it can't end
    the declaration it is in. Decorative: the name is next to it.
    """
    size = "calc(80px * var(--scaling))"
    picture = rx.el.span(
        style={
            "position": "absolute", "inset": "0", "background_size": "cover", "background_position": "center",
            "background_image": "url(" + AuthState.user_picture.to_string() + ")",  # a quoted, escaped CSS string
        },
    )
    return rx.el.span(
        rx.cond(AuthState.user_name != "", AuthState.user_name[0].upper(), "?"),
        rx.cond(AuthState.user_picture != "", picture),
        aria_hidden="true",
        style={
            "position": "relative", "display": "inline-flex", "align_items": "center", "justify_content": "center",
            "flex_shrink": "0", "width": size, "height": size, "border_radius": "100%", "overflow": "hidden",
            "background_color": "var(--accent-a3)", "color": "var(--accent-a11)",
            "font_size": "var(--font-size-7)", "font_weight": "var(--font-weight-medium)",
        },
    )


def user_card(*children: rx.Component) -> rx.Component:
    """The signed-in user: picture, name, email and id, then `children`, then Sign out."""
    return rx.card(
        rx.hstack(
            _user_avatar(),
            rx.vstack(
                rx.heading(AuthState.user_name, size="5"),
                rx.text(AuthState.user_email, color_scheme="gray"),
                rx.code(AuthState.user_sub, variant="ghost", size="1"),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            *children,
            sign_out_button(),
            align="center",
            spacing="4",
            width="100%",
        ),
        width="100%",
        aria_label="Signed-in user",
    )


def callback_content() -> rx.Component:
    """What /callback shows: "Signing in..." while the code is exchanged, or why it failed and Try again."""
    return rx.cond(
        AuthState.error_code != "",
        rx.vstack(
            rx.heading("Sign-in did not finish", size="5"),
            error_callout(),
            rx.hstack(
                sign_in_button("Try again"),
                rx.link(rx.button("Back to home", variant="soft", size="3"), href="/"),
                spacing="3",
            ),
            spacing="4",
            width="100%",
            align="start",
        ),
        loading("Signing in..."),
    )


def callback_page() -> rx.Component:
    """The default /callback page that `setup` adds (pass your own as `callback_page=`)."""
    return rx.center(
        rx.box(callback_content(), width="100%", max_width="640px"),
        padding_x="1.25em",
        padding_y="3em",
        width="100%",
    )
