"""The page's first state: who is signed in, carried by the page response itself.

Reflex builds each page once, before anyone asks for it, and a tab learns its
state over the websocket only once React has hydrated the page: the hydrate's
round trip stood between the page's first paint and the user's name (or the
Sign in button). Where one origin serves both the pages and this backend
(production), a page a browser navigates to now carries the AuthState the
hydrate would bring it (the same session lookup, the same
`AuthState._show_lookup`), in a JSON block at the end of its head. The app's
scripts take it (and remove it) as they load, before React reads the document;
the page applies it as soon as React has hydrated it, and the websocket's first
answer, which follows, is the authority and replaces it whole.

What is carried is what the tab would show anyway, to the browser holding the
session cookie: the user's claims, never a token. A page that carries a state is
`private, no-store`. A page that sends a signed-out visitor to sign in as it
loads carries nothing for them (it would show "signed out" for a moment first),
nor does any page while the session store doesn't answer: those wait for their
websocket, as before. Only Reflex's own pages are touched, never an app route
that answers HTML of its own.

Where a renderer runs beside the worker (`rendering.py`), the page is sent
rendered with that state, so it shows the user as its HTML is parsed, and
React starts from the same state as it hydrates.

Where pages aren't rendered, the callback page carries one thing more where
its request finished the sign-in: where to go (the page the sign-in started on, stored when it
started). It goes there as soon as it has hydrated, with the user already
shown; its handler, told so by the outcome cookie, does nothing. On a network
with round trips, waiting for the websocket to say where to go cost the
socket's handshake and the hydrate's round trip.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex_base.components.memo import memo
from reflex_base.vars import VarData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reflex_logto.reflex.browser_binding import NOT_PAGES, is_html, request_header, under
from reflex_logto.reflex.components import PAGE_FORM_ATTRIBUTE
from reflex_logto.reflex.rendering import get_renderer, page_url
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.reflex.state import AuthState, EveryMinute
from reflex_logto.sessions.store import Lookup

log = logging.getLogger(__name__)

ELEMENT_ID = "__reflex_logto_first_state"
"""The id of the JSON block a page carries its first state in."""
INERT_ID = "__reflex_logto_until_hydrated"
"""The id of the style that keeps a rendered page's buttons from taking clicks until React has
hydrated the page: they show before its scripts run, and a click then would do nothing. A Sign
in or Sign out button's form does its work without them (`components.PAGE_FORM_ATTRIBUTE`): it
takes clicks."""
INERT_STYLE = (
    f'<style id="{INERT_ID}">:is(button,[role="button"]):not(form[{PAGE_FORM_ATTRIBUTE}] *)'
    "{pointer-events:none!important}</style>"
).encode("ascii")

# Headers of the built file that no longer describe the page once it carries a state.
_FILE_HEADERS = (
    b"content-length", b"content-encoding", b"etag", b"last-modified", b"cache-control", b"vary", b"accept-ranges",
)
# Request headers that would let the file server answer with a compressed file, a part, or a 304.
_FILE_NEGOTIATION = (b"accept-encoding", b"if-none-match", b"if-modified-since", b"range", b"if-range")

_store_down = EveryMinute("pages load without their first state: the session store is not answering (logged once a minute)")


def first_state(lookup: Lookup) -> dict[str, dict[str, Any]]:
    """AuthState as the hydrate would show `lookup`, keyed as Reflex's frontend keys a delta."""
    # A detached tree, built as Reflex builds a tab's: no tab's state is touched.
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    auth = root.get_substate(AuthState.get_full_name().split(".")[1:])
    assert isinstance(auth, AuthState)
    auth._show_lookup(lookup)
    name = AuthState.get_full_name()
    return {name: root.get_delta()[name]}


def state_block(state: dict[str, dict[str, Any]], *, go: str | None = None, rendered: bool = False) -> bytes:
    """The JSON block that carries `state` (and, on the callback page, where to `go`; on a page
    rendered with it, that it was): data, never run, so no Content-Security-Policy stands in its
    way; nothing in a claim value can end it."""
    carried: dict[str, Any] = {"state": state}
    if go is not None:
        carried["go"] = go
    if rendered:
        carried["rendered"] = True
    encoded = json.dumps(carried, ensure_ascii=True, separators=(",", ":"))
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{ELEMENT_ID}">{encoded}</script>'.encode("ascii")


def with_first_state(
    page: bytes, state: dict[str, dict[str, Any]], *, go: str | None = None, rendered: bool = False
) -> bytes:
    """`page` (a built page's HTML, or one `rendered` with `state`) with the block at the end of
    its head; as it was without one."""
    head_end = page.find(b"</head>")
    if head_end < 0:
        return page
    carried = state_block(state, go=go, rendered=rendered) + (INERT_STYLE if rendered else b"")
    return page[:head_end] + carried + page[head_end:]


def page_headers(headers: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    """A built page's response headers, for that page carrying a first state in `body`: kept by
    no cache, so neither a shared one nor the browser's back button shows it to anyone again."""
    kept = [(k, v) for k, v in headers if k.lower() not in _FILE_HEADERS]
    return [*kept, (b"content-length", str(len(body)).encode()), (b"cache-control", b"private, no-store")]


def carry_first_state(
    is_page: Callable[[str], bool], signs_in_on_load: Callable[[str], bool], own_routes: tuple[str, ...] = ()
) -> Callable[[ASGIApp], ASGIApp]:
    """Wrap the app: a page a browser navigates to carries the tab's first AuthState.

    `is_page(path)` says whether `path` is one of the app's Reflex pages; `signs_in_on_load(path)`
    whether that page sends a signed-out visitor to sign in as it loads; `own_routes` (the auth
    routes, the callback) answer for themselves.
    """
    skipped = (*NOT_PAGES, *own_routes)

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            found = await _state_for(scope, skipped, is_page, signs_in_on_load)
            if found is None:
                await app(scope, receive, send)
                return
            state, lookup = found
            file_scope = {
                **scope,
                "headers": [h for h in scope["headers"] if h[0].lower() not in _FILE_NEGOTIATION],
                # The file's bytes, not a path for the server to send (granian's `pathsend`).
                "extensions": {k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"},
            }
            # The built page still goes through the app (its cookies, its headers); where the page
            # could be rendered with the state, the rendered page is sent in its place.
            rendered = await _rendered(scope, state, shared=lookup.session is None)
            await app(file_scope, receive, _Rewriter(send, state, rendered))

        return wrapped

    return wrap


async def _state_for(
    scope: Scope, skipped: tuple[str, ...], is_page: Callable[[str], bool], signs_in_on_load: Callable[[str], bool]
) -> tuple[dict[str, dict[str, Any]], Lookup] | None:
    """The first state this request's page carries (and the lookup it shows), or None: not a
    navigation to a page, a page that would flash "signed out", or a store that doesn't answer."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path = scope["path"]
    if (
        under(path, skipped)
        or request_header(scope, b"sec-fetch-dest") != "document"  # navigations only
        or not is_page(path)
    ):
        return None
    flow = get_flow()
    try:
        lookup = await flow.sessions.lookup(flow.cookies.session(request_header(scope, b"cookie")), touch=False)
    except Exception:
        _store_down.warn()
        return None
    if lookup.session is None and signs_in_on_load(path):
        return None
    try:
        return first_state(lookup), lookup
    except Exception:
        log.exception("a page's first state could not be made: the page loads without it")
        return None


async def _rendered(scope: Scope, state: dict[str, dict[str, Any]], *, shared: bool) -> bytes | None:
    """The page rendered with `state` (`rendering.py`), or None to send it as built. `shared`:
    the state shows no user (signed out), so the render is the same for every visitor."""
    renderer = get_renderer()
    if renderer is None:
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    return await renderer.render(page_url(scope["path"], query), state, shared=shared)


class _Rewriter:
    """The `send` of one page response: a 200 HTML page is held whole, then sent with the state
    (the `rendered` page in its place, where there is one)."""

    def __init__(self, send: Send, state: dict[str, dict[str, Any]], rendered: bytes | None = None):
        self.send, self.state, self.rendered = send, state, rendered
        self.start: Message | None = None
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] == 200 and is_html(message):
                self.start = message
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body += message.get("body", b"")
            if message.get("more_body", False):
                return
            body = self._page()
            await self.send({**self.start, "headers": page_headers(list(self.start.get("headers", [])), body)})
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)

    def _page(self) -> bytes:
        if self.rendered is not None:
            page = with_first_state(self.rendered, self.state, rendered=True)
            if page != self.rendered:  # else no head to say it was rendered in: the built page
                return page
        return with_first_state(bytes(self.body), self.state)


# Taken as the app's scripts load, before React reads the document (and before any component
# can open the tab's websocket): the block is removed, and each carried state's hash in
# `initialStateHashes` is spoiled. Reflex 0.10.1's first hydrate leaves out every var still at
# its compiled default (the frontend sends those hashes, state by state, in sorted order after
# a digest of the names); a state this page changes is asked for whole instead, so the
# websocket's answer replaces all of it, "signed out" included. A page rendered with the state
# (`rendering.py`) has it set in the compiled initial state, which the state store starts from
# as React hydrates: hydration finds what was rendered. On the server, the same object is handed
# to the renderer, which sets each request's state in it (`renderer.mjs`).
_TAKE = f"""const carriedFirstState = (() => {{
  if (typeof document === "undefined") {{
    globalThis[Symbol.for("reflex_logto.initial_state")] = initialState;
    return null;
  }}
  const block = document.getElementById({json.dumps(ELEMENT_ID)});
  if (!block) return null;
  block.remove();
  let carried;
  try {{
    carried = JSON.parse(block.textContent);
  }} catch {{
    return null;
  }}
  if (!carried || typeof carried.state !== "object" || carried.state === null) return null;
  const names = Object.keys(initialState).sort();
  for (const name of Object.keys(carried.state)) {{
    const at = names.indexOf(name);
    if (at >= 0) initialStateHashes[at + 1] = "";
  }}
  const rendered = carried.rendered === true;
  if (rendered) {{
    for (const [name, delta] of Object.entries(carried.state)) {{
      if (initialState[name]) initialState[name] = {{ ...initialState[name], ...delta }};
    }}
  }}
  const go = typeof carried.go === "string" && carried.go.startsWith("/") && !carried.go.startsWith("//") ? carried.go : null;
  return {{ state: carried.state, go, rendered }};
}})();"""

# Applied once React has hydrated a built page (built with the defaults, and hydration must find
# what was built), before the websocket's answer can arrive; a rendered page already shows it,
# and its buttons now take clicks.
_APPLY = """useEffect(() => {
  if (!carriedFirstState) return;
  if (carriedFirstState.rendered) document.getElementById(__INERT_ID__)?.remove();
  else for (const [name, delta] of Object.entries(carriedFirstState.state)) dispatchers[name]?.(delta);
  if (carriedFirstState.go) navigate(carriedFirstState.go, { replace: true });
}, []);""".replace("__INERT_ID__", json.dumps(INERT_ID))


class _FirstStateReceiver(rx.Fragment):
    """Applies what the page response carried to the tab's state store (and, on the callback
    page, goes on); renders nothing."""

    def add_imports(self) -> dict[str, list[str]]:
        return {"$/utils/context": ["initialState", "initialStateHashes"]}

    def add_custom_code(self) -> list[str]:
        return [_TAKE]

    def add_hooks(self) -> list[str | rx.Var]:
        return [
            rx.Var(
                "const dispatchers = useContext(DispatchContext);\nconst navigate = useNavigate();",
                _var_data=VarData(
                    imports={
                        "react": ["useContext"],
                        "react-router": ["useNavigate"],
                        "$/utils/context": ["DispatchContext"],
                    }
                ),
            ),
            rx.Var(_APPLY, _var_data=VarData(imports={"react": ["useEffect"]})),
        ]


@memo
def logto_first_state() -> rx.Component:
    return _FirstStateReceiver.create()


def first_state_wrap() -> rx.Component:
    """What `setup` adds to the app's wraps: the receiver as a memo of its own, in a Fragment (as
    Reflex's own sticky badge): it renders no children, so the wraps below it stay its siblings."""
    return rx.Fragment.create(logto_first_state())
