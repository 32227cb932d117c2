"""Backend routes: the only places that set or clear the HttpOnly cookies.

Each answers with a redirect, the callback page, or (to the page's own fetch)
where to go next, never a stack trace. Of the routes a browser uses, only the
Sign out form's POST ends a session, and only from the app's own pages (the
provider ends them by back-channel logout); the signed-out route clears a
cookie only once its session is gone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reflex_logto.errors import InvalidCallback, InvalidLogoutToken, SignInError
from reflex_logto.oidc.tokens import TokenSet
from reflex_logto.reflex.asset_cache import service_worker_route, static_dir
from reflex_logto.reflex.cookies import valid_binding
from reflex_logto.reflex.first_state import first_state, with_first_state
from reflex_logto.reflex.hardening import allowed_origins, origin_of
from reflex_logto.reflex.outcomes import failure
from reflex_logto.reflex.rate_limits import allow_page_sign_in_start
from reflex_logto.reflex.rendering import get_renderer, page_url
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.sessions.flow import SignedOut, SignInFlow
from reflex_logto.sessions.store import Lookup, Session
from reflex_logto.sessions.transactions import SignInTransaction

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


def _failing_safely(
    route: Callable[[Request], Awaitable[Response]], method: str = "GET", error_code: str = "default"
) -> Callable[[Request], Awaitable[Response]]:
    """Whatever breaks inside a browser-facing route, the browser lands on a page that says so
    (`error_code`'s message). A HEAD (which Starlette lets into every GET route) spends nothing:
    these routes are single use."""

    @functools.wraps(route)
    async def guarded(request: Request) -> Response:
        if request.method != method:
            return Response(status_code=405, headers={"Allow": method, **_NO_STORE})
        try:
            return await route(request)
        except Exception:
            log.exception("auth route %s failed", request.url.path)
            return _redirect(get_flow().callback_error_url(error_code))

    return guarded


@_failing_safely
async def start_sign_in(request: Request) -> Response:
    flow = get_flow()
    # Reuse the browser's binding, so two tabs signing in at once both finish.
    binding = _browser_binding(request, flow) or secrets.token_urlsafe(32)
    url = await flow.claim_sign_in(request.path_params["txn_id"], binding)
    if url is None:
        return _redirect(flow.callback_error_url("invalid_transaction"))
    response = _redirect(url)
    flow.cookies.set_binding(response, binding)
    return response


@_failing_safely
async def start_sign_in_from_page(request: Request) -> Response:
    """`GET {prefix}/sign-in?return_to=...&option=...`: the Sign in button's form, sent by a page
    whose tab can't call the handler yet (a rendered page shows the button before React has
    hydrated it, and the websocket opens after that), or the app's own link. Starts the sign-in
    the handler would (`AuthState._start_sign_in`): `return_to` is where the user comes back to
    (a path of this app), `option` one the app declared.

    A navigation another site started (its Sec-Fetch-Site says so) starts nothing: it lands on
    the home page, whose Sign in button does. Counted per browser (its sign-in cookie), or per
    address without one.
    """
    flow = get_flow()
    if not _started_by_this_app(request, flow):
        return _redirect(f"{flow.config.base_url}/")
    params = request.query_params
    if any(len(params.getlist(name)) > 1 for name in ("return_to", "option")):
        return Response("Not a sign-in form.", status_code=400, headers=_NO_STORE)
    binding = _browser_binding(request, flow)
    if not allow_page_sign_in_start(binding, request.client.host if request.client else "", time.monotonic()):
        return _redirect(flow.callback_error_url("too_many_attempts"))  # nothing stored
    binding = binding or secrets.token_urlsafe(32)
    started = await flow.start_sign_in(params.get("return_to"), params.get("option") or "default", binding=binding)
    response = _redirect(started)
    flow.cookies.set_binding(response, binding)
    return response


def _browser_binding(request: Request, flow: SignInFlow) -> str | None:
    """The browser's sign-in cookie, where it holds a valid one."""
    found = flow.cookies.binding(request.headers.get("cookie"))
    return found if valid_binding(found) else None


def _started_by_this_app(request: Request, flow: SignInFlow) -> bool:
    """Whether this navigation came from the app's own pages, by its Fetch Metadata: the same
    origin, or none (typed, bookmarked); a browser that sends none can't be told apart. From
    the same site but another origin, only one of the app's own (dev mode's frontend, on its
    own port), by the origin its Referer names."""
    site = request.headers.get("sec-fetch-site")
    if site in (None, "same-origin", "none"):
        return True
    referer = request.headers.get("referer")
    return site == "same-site" and referer is not None and origin_of(referer) in allowed_origins(flow.config)


def _sent_by_a_page_of_this_app(request: Request, flow: SignInFlow) -> bool:
    """Whether one of the app's pages sent this POST, by its Origin (which a page can't forge).
    A document whose referrer policy is `no-referrer` (the callback page's, which the tab keeps
    as it moves on in place) sends `Origin: null` with a form's POST; its Fetch Metadata still
    says where it came from, and no other site's page can say `same-origin`."""
    origin = request.headers.get("origin", "").lower()
    if origin in allowed_origins(flow.config):
        return True
    return origin in ("", "null") and request.headers.get("sec-fetch-site") == "same-origin"


async def _create_session(request: Request, flow: SignInFlow) -> tuple[str, str] | None:
    """Redeem the sign-in handoff for a session: (session id, return URL), or None."""
    header = request.headers.get("cookie")
    return await flow.complete_sign_in(
        request.path_params["handoff_id"],
        flow.cookies.binding(header),
        flow.cookies.session(header),
        user_agent=request.headers.get("user-agent", ""),
    )


def _with_session_cookies(response: Response, flow: SignInFlow, session_id: str) -> Response:
    flow.cookies.set_session(response, session_id, max_age=flow.sessions.max_age)
    flow.cookies.set_sign_in_done(response)
    return response


def _without_session_cookies(response: Response, flow: SignInFlow) -> Response:
    flow.cookies.clear_session(response)
    flow.cookies.clear_sign_in_done(response)
    return response


@_failing_safely
async def complete_sign_in(request: Request) -> Response:
    """The page-load handoff: set the session cookie, then send the browser on."""
    flow = get_flow()
    result = await _create_session(request, flow)
    if result is None:
        return _redirect(flow.callback_error_url("invalid_transaction"))
    session_id, return_url = result
    return _with_session_cookies(_redirect(return_url), flow, session_id)


async def take_session(request: Request) -> Response:
    """The in-page handoff: the callback page's own `fetch` gets the session cookie and where
    to go next, and the tab moves on without loading another page.

    Only a page of this app may call it (its Origin, which a page can't forge); the
    handoff is single use and bound to the browser's sign-in cookie, as for the GET.
    """
    flow = get_flow()
    if not _sent_by_a_page_of_this_app(request, flow):
        return _json_location(flow.callback_error_url("invalid_transaction"), 403)
    try:
        result = await _create_session(request, flow)
    except Exception:
        log.exception("auth route %s failed", request.url.path)
        return _json_location(flow.callback_error_url("default"), 503)
    if result is None:
        return _json_location(flow.callback_error_url("invalid_transaction"), 409)
    session_id, return_url = result
    response = _with_session_cookies(_json_location(return_url, 200), flow, session_id)
    flow.cookies.clear_callback_result(response)
    return response


def _json_location(url: str, status: int) -> JSONResponse:
    """Where the page goes next (on an error status, the callback page saying why)."""
    return JSONResponse({"location": url}, status_code=status, headers=_NO_STORE)


CALLBACK_WAIT_SECONDS = 0.5
"""How long the callback request waits for the provider before it shows the page ("Signing
in...") and lets the sign-in finish behind it. A provider answers in a few tens of ms."""
BEHIND_THE_PAGE_SECONDS = 8.0
"""The most a sign-in finishing behind the page may take; the page waits a little longer
(`state.CALLBACK_RESULT_WAIT_SECONDS`), within Reflex's 10 s hold on a tab's state."""
MAX_FINISHING = 256
"""Sign-ins finishing behind their pages at once, per process; beyond, a request waits for its own."""

_finishing: set[asyncio.Task] = set()  # sign-ins the callback page is waiting for


async def callback(request: Request, is_page: Callable[[str], bool]) -> Response:
    """The provider's redirect, where one origin serves both the pages and this backend: finish
    the sign-in in this request, then send the browser to the page it started on, which renders
    with the user shown (`rendering.py`); where pages aren't rendered, answer with the callback
    page itself (Reflex's, as built).

    Sent on, the browser makes one page load, as after any server-side sign-in. Given the
    callback page, it gets the session cookie with it, so the tab's websocket carries it from
    the start, and the page carries the new session's first state and where to go: it goes there
    as soon as it has hydrated, without waiting for its websocket, and its on_load
    (`AuthState.finish_sign_in`) does nothing. A failure, or a page that couldn't be given what
    it carries, leaves an outcome for the on_load to read instead (on the callback page). A
    provider slower than CALLBACK_WAIT_SECONDS gets the callback page at once, showing its
    progress, and the sign-in ends behind it as on the websocket path (the page fetches the
    session route). Every check is `SignInFlow`'s.
    """
    flow = get_flow()
    page = callback_html(flow.config.callback_path)
    if page is None:
        log.error("no built page for %s: is the frontend built?", flow.config.callback_path)
        return Response("The sign-in page is missing.", status_code=404, headers=_NO_STORE)
    response = HTMLResponse(page, headers=_NO_STORE)  # no-referrer: the URL holds the code
    header = request.headers.get("cookie")
    binding = flow.cookies.binding(header)
    if request.method != "GET" or "state" not in request.query_params or not binding:
        flow.cookies.clear_callback_result(response)  # an earlier outcome is not this page's
        return response  # nothing of ours to finish here (a HEAD spends no code): the page's handler says why
    result_id = flow.handoffs.new_id()
    redeeming = asyncio.ensure_future(_redeem(flow, request, binding))
    wait = CALLBACK_WAIT_SECONDS if len(_finishing) < MAX_FINISHING else None
    session_started = False
    try:
        try:
            txn, tokens = await asyncio.wait_for(asyncio.shield(redeeming), wait)
        except TimeoutError:
            log.info("the provider is slow: the callback page shows its progress while the sign-in ends")
            _finish_behind_the_page(flow, redeeming, binding, result_id)
            flow.cookies.set_callback_result(response, result_id, "pending")
            return response
        session_id, return_url, session = await flow.start_session(
            tokens, txn.return_path, flow.cookies.session(header), user_agent=request.headers.get("user-agent", "")
        )
        session_started = True
        if _return_page_renders():
            # The page the sign-in started on shows the user as its HTML arrives: go straight there.
            _prepare_the_return_page(session, return_url, is_page)
            redirect = _with_session_cookies(_redirect(return_url), flow, session_id)
            flow.cookies.clear_callback_result(redirect)
            return redirect
        _with_session_cookies(response, flow, session_id)
        if _carry_the_sign_in(response, page, session, return_url):
            flow.cookies.set_callback_result(response, result_id, "carried")  # nothing kept: nothing to read
            return response
        result = {"return_url": return_url}
    except asyncio.CancelledError:
        if not session_started:  # the request went away: the sign-in still ends (or its grant is revoked) behind it
            _finish_behind_the_page(flow, redeeming, binding, result_id)
        raise
    except Exception as err:
        result = failure(err)
    try:
        await flow.save_callback_result(result_id, binding, result)
        flow.cookies.set_callback_result(response, result_id)
    except Exception:
        # The page's handler then finds no outcome; it sees the session cookie if there is one.
        log.warning("the callback's outcome could not be kept", exc_info=True)
    return response


def _return_page_renders() -> bool:
    """Whether pages are rendered with their first state now (`rendering.py`)."""
    renderer = get_renderer()
    return renderer is not None and renderer.ready


def _prepare_the_return_page(session: Session, return_url: str, is_page: Callable[[str], bool]) -> None:
    """Render the page the browser is sent to while the redirect travels: its request, which
    carries the same state, then finds it rendered or under way (`PageRenderer.render`), on this
    worker. Only a page that request would have rendered (`is_page`, as `carry_first_state` asks)."""
    renderer = get_renderer()
    target = urllib.parse.urlsplit(return_url)  # built on the app's base URL: the path is ours
    path = urllib.parse.unquote(target.path) or "/"  # as the page's request has it (ASGI decodes it)
    if renderer is None or not is_page(path):
        return
    try:
        state = first_state(Lookup(session))
    except Exception:
        return  # the page's own request makes it, or logs why it can't
    renderer.prepare(page_url(path, target.query), state)


def _carry_the_sign_in(response: Response, page: bytes, session: Session, return_url: str) -> bool:
    """Make the callback page carry the new session's first state and where to go
    (`first_state.py`); False, the page as built, if it can't."""
    target = urllib.parse.urlsplit(return_url)  # built on the app's base URL: the path is ours
    go = urllib.parse.urlunsplit(("", "", target.path or "/", target.query, ""))
    try:
        body = with_first_state(page, first_state(Lookup(session)), go=go)
    except Exception:
        log.warning("the callback page could not carry the sign-in: its handler sends the tab on", exc_info=True)
        return False
    if body == page:
        return False  # a built page without a head
    response.body = body
    response.headers["content-length"] = str(len(body))
    return True


async def _redeem(flow: SignInFlow, request: Request, binding: str) -> tuple[SignInTransaction, TokenSet]:
    """`SignInFlow.redeem` on the callback's parameters; one sent twice makes the callback
    malformed (RFC 6749: each appears at most once)."""
    params = request.query_params
    if any(len(params.getlist(name)) > 1 for name in params):
        raise InvalidCallback("a callback parameter appears more than once")
    return await flow.redeem(dict(params), binding)


def _finish_behind_the_page(flow: SignInFlow, redeeming: asyncio.Future, binding: str, result_id: str) -> None:
    task = asyncio.ensure_future(_hand_over_late(flow, redeeming, binding, result_id))
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)


async def _hand_over_late(flow: SignInFlow, redeeming: asyncio.Future, binding: str, result_id: str) -> None:
    """The late sign-in: once redeemed, hand it to the session route the page will fetch. One
    that can't be handed over in time has its refresh token revoked: nobody will use it."""
    tokens = None
    try:
        async with asyncio.timeout(BEHIND_THE_PAGE_SECONDS):
            txn, tokens = await redeeming
            result = {"handoff_url": await flow.handoff_sign_in(txn, tokens, binding)}
    except BaseException as err:  # a timeout, a failed check or store, a shutdown
        if not redeeming.done():
            redeeming.cancel()
        if tokens is not None and tokens.refresh_token:
            await flow.client.revoke(tokens.refresh_token)
        if not isinstance(err, Exception):
            raise
        result = failure(err)
    try:
        await flow.save_callback_result(result_id, binding, result)
    except Exception:
        log.warning("the callback's outcome could not be kept", exc_info=True)  # the page times out


@functools.lru_cache(maxsize=8)
def _built_page(path: str, mtime: float) -> bytes:
    return Path(path).read_bytes()


def callback_html(callback_path: str) -> bytes | None:
    """The callback page as Reflex built it, or None where this process has no build (dev
    mode); read once per build."""
    name = callback_path.strip("/")
    for page in (static_dir() / f"{name}.html", static_dir() / name / "index.html"):
        if page.is_file():
            return _built_page(str(page), page.stat().st_mtime)
    return None


@functools.partial(_failing_safely, method="POST", error_code="sign_out_failed")
async def sign_out_from_page(request: Request) -> Response:
    """`POST {prefix}/sign-out`: the Sign out button's form, sent by a page whose tab can't call
    the handler yet, as Sign in's is. Ends the session the handler would (`AuthState.sign_out`),
    clears the cookie, and sends the browser on where the signed-out route sends the handler's
    tab (the provider's end-session endpoint); the app's hook and the refresh token's
    revocation run once the answer has gone.

    Only a page of this app signs out this way (its Origin, which a page can't forge; another
    site's form would not carry the SameSite=Lax session cookie either): from anywhere else,
    nothing changes, and the browser lands on the page that says signing out did not finish
    (harmless to someone another site sent here; a real user of an origin the app doesn't
    know, say, is told). No GET signs out.
    """
    flow = get_flow()
    if not _sent_by_a_page_of_this_app(request, flow):
        log.info("sign-out form refused: sent from %.80r, not one of the app's pages", request.headers.get("origin"))
        return _redirect(flow.callback_error_url("sign_out_failed"))
    signed_out = await flow.sign_out(flow.cookies.session(request.headers.get("cookie")), from_a_route=True)
    response = _without_session_cookies(_redirect(signed_out.url), flow)
    response.background = BackgroundTask(_finish_sign_out, flow, signed_out)
    return response


async def _finish_sign_out(flow: SignInFlow, signed_out: SignedOut) -> None:
    # Shielded, as the handler's is: once the answer has gone, the hook and the revocation
    # run to their end however the request ends; whatever they raise is logged, not thrown
    # at the server after the answer.
    try:
        await asyncio.shield(flow.finish_sign_out(signed_out))
    except Exception:
        log.exception("the sign-out's hook or revocation failed")


@_failing_safely
async def complete_sign_out(request: Request) -> Response:
    flow = get_flow()
    session_id = flow.cookies.session(request.headers.get("cookie"))
    response = _redirect(await flow.complete_sign_out(request.path_params.get("handoff_id"), session_id))
    if (await flow.sessions.lookup(session_id, touch=False)).session is None:
        return _without_session_cookies(response, flow)
    return response


async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0: the provider ends sessions, server to server."""
    flow = get_flow()
    try:
        token = await _logout_token(request)
        await flow.lifecycle.backchannel_logout(token)
    except (InvalidLogoutToken, SignInError, ValueError) as err:
        log.warning("back-channel logout refused: %s", err)
        return JSONResponse({"error": "invalid_request"}, status_code=400, headers=_NO_STORE)
    except Exception:
        log.exception("back-channel logout failed")
        return JSONResponse({"error": "server_error"}, status_code=400, headers=_NO_STORE)
    return Response(status_code=200, headers=_NO_STORE)


MAX_LOGOUT_REQUEST_BYTES = 64 * 1024


async def _logout_token(request: Request) -> str:
    """The `logout_token` of a form-encoded body of at most 64 KiB (Back-Channel Logout 1.0, 2.5)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InvalidLogoutToken("not a form-encoded request")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGOUT_REQUEST_BYTES:
            raise InvalidLogoutToken("request too large")
    values = [v for k, v in urllib.parse.parse_qsl(body.decode("utf-8", "replace")) if k == "logout_token"]
    if len(values) != 1:
        raise InvalidLogoutToken("expected exactly one logout_token")
    return values[0]


def auth_routes(
    prefix: str = "/auth", callback_path: str = "/callback", is_page: Callable[[str], bool] = lambda path: True
) -> Starlette:
    """The routes to pass to `rx.App(api_transformer=...)`; Reflex mounts itself below them.

    `prefix` is the config's `routes_prefix` (LOGTO_ROUTES_PREFIX), `callback_path` its
    `callback_path` (LOGTO_CALLBACK_PATH); `is_page(path)` whether `path` is one of the app's
    pages (the callback renders the one it sends the browser to, if it is).
    """
    callback_to_pages = functools.partial(callback, is_page=is_page)
    return Starlette(
        routes=[
            service_worker_route(prefix),
            Route(callback_path, callback_to_pages, methods=["GET"]),
            Route(callback_path.rstrip("/") + "/", callback_to_pages, methods=["GET"]),
            Route(f"{prefix}/sign-in", start_sign_in_from_page, methods=["GET"]),
            Route(f"{prefix}/sign-in/{{txn_id}}", start_sign_in, methods=["GET"]),
            Route(f"{prefix}/session/{{handoff_id}}", complete_sign_in, methods=["GET"]),
            Route(f"{prefix}/session/{{handoff_id}}", take_session, methods=["POST"]),
            Route(f"{prefix}/sign-out", sign_out_from_page, methods=["POST"]),
            Route(f"{prefix}/signed-out", complete_sign_out, methods=["GET"]),
            Route(f"{prefix}/signed-out/{{handoff_id}}", complete_sign_out, methods=["GET"]),
            Route(f"{prefix}/backchannel-logout", backchannel_logout, methods=["POST"]),
        ]
    )
