"""The page's first state: who is signed in, carried by the page response itself.

Reflex builds each page once, before anyone asks for it, and a tab learns its
state over the websocket only once React has hydrated the page: the hydrate's
round trip stood between the page's first paint and the user's name (or the
Sign in button). Where one origin serves both the pages and this backend
(production), a page loaded by a browser now carries the AuthState the hydrate
would bring it (the same session lookup, the same `AuthState._show_lookup`),
in a small script that hands it over and removes itself before React reads the
document; the page applies it as soon as it has hydrated, and the hydrate's
own answer, which follows, is the authority and replaces it.

What is carried is what the tab would show anyway, to the browser holding the
session cookie: the user's claims, never a token. A page carrying a signed-in
user's claims is `private, no-store`. A page that sends a signed-out visitor to
sign in as it loads carries nothing for them (it would show "signed out" for a
moment first), nor does any page while the session store doesn't answer: those
wait for their websocket, as before.

The callback page carries one thing more where its request finished the sign-in: where to
go (the page the sign-in started on). It goes there at once, with the user already shown,
and tells its handler so through the tab's session storage (`AuthState.moved_on`), so the
handler only spends the outcome: on a network with round trips, waiting for the websocket
to say where to go cost the socket's handshake and the hydrate's round trip.
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

from reflex_logto.reflex.browser_binding import NOT_PAGES, is_html, under
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.reflex.state import MOVED_ON_KEY, AuthState
from reflex_logto.sessions.store import Lookup

log = logging.getLogger(__name__)

GLOBAL = "__reflexLogtoFirstState"
"""Where the page's script leaves what it carries for the page to take (once)."""


# Headers of the built file that no longer describe the page once it carries a state.
_FILE_HEADERS = (b"content-length", b"content-encoding", b"etag", b"last-modified", b"cache-control", b"vary")
# Request headers that would let the file server answer with a compressed file or a 304.
_FILE_NEGOTIATION = (b"accept-encoding", b"if-none-match", b"if-modified-since", b"range", b"if-range")


def first_state(lookup: Lookup) -> dict[str, dict[str, Any]]:
    """AuthState as the hydrate would show `lookup`, keyed as Reflex's frontend keys a delta."""
    # A detached tree, built as Reflex builds a tab's: no tab's state is touched.
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    auth = root.get_substate(AuthState.get_full_name().split(".")[1:])
    assert isinstance(auth, AuthState)
    auth._show_lookup(lookup)
    name = AuthState.get_full_name()
    return {name: root.get_delta()[name]}


def state_script(state: dict[str, dict[str, Any]], *, go: str | None = None, outcome: str | None = None) -> bytes:
    """The `<script>` that hands `state` (and, on the callback page, where to `go` with the id of
    the `outcome` it read) to the page and removes itself; safe for any claim value (nothing in
    it can end the script or the JSON string)."""
    carried: dict[str, Any] = {"state": state}
    if go is not None:
        carried |= {"go": go, "outcome": outcome}
    encoded = json.dumps(carried, ensure_ascii=True, separators=(",", ":"))
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<script>window.{GLOBAL}={encoded};document.currentScript.remove()</script>".encode("ascii")


def with_first_state(page: bytes, state: dict[str, dict[str, Any]], **where: str) -> bytes:
    """`page` (a built page's HTML) with the script at the end of its head; as it was without one.
    `where` is `state_script`'s `go` and `outcome`."""
    head_end = page.find(b"</head>")
    if head_end < 0:
        return page
    return page[:head_end] + state_script(state, **where) + page[head_end:]


def page_headers(headers: list[tuple[bytes, bytes]], body: bytes, *, signed_in: bool) -> list[tuple[bytes, bytes]]:
    """A built page's response headers, for that page carrying a first state in `body`."""
    kept = [(k, v) for k, v in headers if k.lower() not in _FILE_HEADERS]
    return [
        *kept,
        (b"content-length", str(len(body)).encode()),
        # A signed-in user's claims are kept by no cache; a signed-out page is checked every time.
        (b"cache-control", b"private, no-store" if signed_in else b"private, no-cache"),
    ]


def carry_first_state(signs_in_on_load: Callable[[str], bool], own_routes: tuple[str, ...] = ()) -> Callable[[ASGIApp], ASGIApp]:
    """Wrap the app: a page a browser navigates to carries the tab's first AuthState.

    `signs_in_on_load(path)` says whether the page at `path` sends a signed-out visitor to sign
    in as it loads; `own_routes` (the auth routes, the callback) answer for themselves.
    """
    skipped = (*NOT_PAGES, *own_routes)

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if (
                scope["type"] != "http"
                or scope["method"] != "GET"
                or under(scope["path"], skipped)
                or _header(scope, b"sec-fetch-dest") != b"document"  # navigations only
            ):
                await app(scope, receive, send)
                return
            lookup = await _lookup(_header(scope, b"cookie"))
            if lookup is None or (lookup.session is None and signs_in_on_load(scope["path"])):
                await app(scope, receive, send)
                return
            state = first_state(lookup)
            file_scope = {
                **scope,
                "headers": [h for h in scope["headers"] if h[0].lower() not in _FILE_NEGOTIATION],
                # The file's bytes, not a path for the server to send (granian's `pathsend`).
                "extensions": {k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"},
            }
            await app(file_scope, receive, _Rewriter(send, state, signed_in=lookup.session is not None))

        return wrapped

    return wrap


class _Rewriter:
    """The `send` of one page response: a 200 HTML page is held whole, then sent with the state."""

    def __init__(self, send: Send, state: dict[str, dict[str, Any]], *, signed_in: bool):
        self.send, self.state, self.signed_in = send, state, signed_in
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
            body = with_first_state(bytes(self.body), self.state)
            headers = page_headers(list(self.start.get("headers", [])), body, signed_in=self.signed_in)
            await self.send({**self.start, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)


async def _lookup(cookie_header: bytes | None) -> Lookup | None:
    """The session this browser's cookie names, as the hydrate will find it; None if the store
    doesn't answer (the page then waits for its websocket)."""
    flow = get_flow()
    try:
        return await flow.sessions.lookup(
            flow.cookies.session(cookie_header.decode("latin-1") if cookie_header else None), touch=False
        )
    except Exception as err:
        log.warning("session lookup for a page's first state failed, the page loads without it: %s", err)
        return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    values = [v for k, v in scope["headers"] if k.lower() == name]
    return b"; ".join(values) if values else None


# The page takes the state once, after React has hydrated it (the built page was rendered
# with the defaults, and hydration must find what it rendered), and before the tab's
# websocket asks for its state: a child's effects run before its providers'. Reflex 0.10.1's
# first hydrate leaves out every var still at its compiled default (the frontend sends the
# hashes of `initialState`, state by state, in sorted order after a digest of the names): a
# state this page changed is asked for whole, so the websocket's answer replaces all of it.
_RECEIVE = f"""useEffect(() => {{
  const carried = window.{GLOBAL};
  if (!carried) return;
  delete window.{GLOBAL};
  const names = Object.keys(initialState).sort();
  for (const [name, delta] of Object.entries(carried.state)) {{
    if (!dispatchers[name]) continue;
    const at = names.indexOf(name);
    if (at >= 0) initialStateHashes[at + 1] = "";
    dispatchers[name](delta);
  }}
  if (carried.go) {{
    sessionStorage.setItem({json.dumps(MOVED_ON_KEY)}, carried.outcome);
    navigate(carried.go, {{ replace: true }});
  }}
}}, []);"""


class _FirstStateReceiver(rx.Fragment):
    """Applies what the page response carried to the tab's state store (and, on the callback
    page, goes on); renders nothing."""

    def add_hooks(self) -> list[str | rx.Var]:
        return [
            rx.Var(
                "const dispatchers = useContext(DispatchContext);\nconst navigate = useNavigate();",
                _var_data=VarData(
                    imports={
                        "react": ["useContext"],
                        "react-router": ["useNavigate"],
                        "$/utils/context": ["DispatchContext", "initialState", "initialStateHashes"],
                    }
                ),
            ),
            rx.Var(_RECEIVE, _var_data=VarData(imports={"react": ["useEffect"]})),
        ]


@memo
def logto_first_state() -> rx.Component:
    return _FirstStateReceiver.create()


def first_state_wrap() -> rx.Component:
    """What `setup` adds to the app's wraps: the receiver as a memo of its own, in a Fragment (as
    Reflex's own sticky badge): it renders no children, so the wraps below it stay its siblings."""
    return rx.Fragment.create(logto_first_state())
