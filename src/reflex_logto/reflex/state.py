"""AuthState: the server actions behind the Sign in and Sign out buttons.

Every public event handler is a public endpoint: the browser picks the
handler and its arguments. So none of these takes an argument, none trusts a
var the browser can set, and each resolves the user again from the session
cookie. Tokens, transactions and the session id never enter this state.
"""

from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx

from reflex_logto.errors import ProviderUnavailable, SessionEnded, SignInError, StoreUnavailable
from reflex_logto.reflex.access import public
from reflex_logto.reflex.claims import claim_rows
from reflex_logto.reflex.cookies import valid_binding
from reflex_logto.reflex.messages import message_for, notice_for
from reflex_logto.reflex.navigation import page_load, take_session
from reflex_logto.reflex.outcomes import failure
from reflex_logto.reflex.rate_limits import allow_sign_in_start
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.sessions.store import Lookup, Session

log = logging.getLogger(__name__)

CALLBACK_RESULT_WAIT_SECONDS = 9.0
"""How long the callback page waits for a sign-in its request left finishing: past the most
that may take (`routes.BEHIND_THE_PAGE_SECONDS`), within the 10 s for which Reflex's Redis
state manager lets a handler hold a tab's state."""
SPINNER_AFTER_SECONDS = 0.1
"""A Sign in or Sign out click is usually done in a millisecond, and the tab leaves at once;
one that takes longer shows the button spinning meanwhile."""


async def _done_soon(work: asyncio.Future) -> bool:
    done, _ = await asyncio.wait((work,), timeout=SPINNER_AFTER_SECONDS)
    return bool(done)


class EveryMinute:
    """A warning that every open tab's heartbeat (or every page load) would otherwise repeat."""

    def __init__(self, message: str, logger: logging.Logger = log):
        self.message, self.logger, self.last = message, logger, float("-inf")

    def warn(self, *args: object) -> None:
        if time.monotonic() - self.last >= 60:
            self.last = time.monotonic()
            self.logger.warning(self.message, *args)


_store_down = EveryMinute("session checks skipped: the session store is not answering (logged once a minute)")


async def _wait_for_callback_result(result_id: str, binding: str | None) -> dict[str, str]:
    """The outcome the callback request is still working on, once it is kept (any worker's)."""
    deadline = time.monotonic() + CALLBACK_RESULT_WAIT_SECONDS
    pause = 0.05  # seconds, growing: a slow provider is slow for a while
    while time.monotonic() < deadline:
        result = await get_flow().take_callback_result(result_id, binding)
        if result is not None:
            return result
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.25)
    log.warning("the callback's sign-in did not end in %.0f s", CALLBACK_RESULT_WAIT_SECONDS)
    return {"error_code": "default"}


class AuthState(rx.State):
    """Who is signed in, as this tab shows it."""

    loaded: bool = False
    """Whether the session has been looked up since this page loaded."""
    signed_in: bool = False
    """Whether the browser's session cookie names a live session."""
    user_name: str = ""
    """The display name: `name`, else `username`, else `email`, else `sub`."""
    user_email: str = ""
    """The `email` claim."""
    user_picture: str = ""
    """The `picture` claim (a URL)."""
    user_sub: str = ""
    """The `sub` claim: the user's id at the provider."""
    claims: list[dict[str, str]] = []
    """Every ID token claim: key, value, readable date."""
    roles: list[str] = []
    """The `roles` claim (Logto's `roles` scope), for what the page shows; handlers check the session."""
    acting_party: str = ""
    """Who is acting for the user (the ID token's `act` claim: impersonation), or ""."""

    pending: str = ""
    """The action under way ("sign_in", "sign_out"), for the buttons' loading state."""
    error_code: str = ""
    """Why the last sign-in failed, as a code from `messages.py`."""
    provider_error: str = ""
    """The provider's own `error` and `error_description`, when it sent one (shown escaped)."""
    notice: str = ""
    """Why this tab was signed out without asking ("idle", "revoked", ...), or ""."""
    provider_unreachable: bool = False
    """A token refresh is overdue because the provider can't be reached."""

    @rx.var
    def error_message(self) -> str:
        """The sentence for `error_code`."""
        return message_for(self.error_code) if self.error_code else ""

    @rx.var
    def notice_message(self) -> str:
        """The sentence for `notice`."""
        return notice_for(self.notice) if self.notice else ""

    def _cookies(self) -> str | None:
        """The `Cookie` header of this tab's browser, if the tab is a page of this app.

        SameSite=Lax lets a page of a sibling origin on the same site open a
        websocket with the user's cookies; the Origin header it can't forge
        tells it apart.
        """
        if self.router.headers.origin != get_flow().config.origin:
            return None
        return self.router.headers.cookie

    def _fail(self, err: Exception, doing: str) -> None:
        """The one way a handler fails: a known error shows its code (a warning in the log),
        anything else the default message (and its traceback in the server log only)."""
        self.pending = ""
        if isinstance(err, SignInError):
            log.warning("%s failed (%s): %s", doing, err.code, err)
            self.error_code = err.code
        else:
            log.exception("%s failed unexpectedly", doing)
            self.error_code = "default"

    def _show_signed_out(self, reason: str | None = None) -> None:
        self.signed_in = False
        self.provider_unreachable = False
        self.notice = reason or ""
        self.user_name = self.user_email = self.user_picture = self.user_sub = ""
        self.claims = []
        self.roles = []
        self.acting_party = ""

    def _show(self, session: Session) -> None:
        claims = session.claims
        self.signed_in = True
        self.notice = ""
        self.user_sub = session.sub
        self.user_email = str(claims.get("email") or "")
        self.user_picture = str(claims.get("picture") or "")
        self.user_name = str(claims.get("name") or claims.get("username") or self.user_email or session.sub)
        self.claims = claim_rows(claims)
        roles = claims.get("roles")
        self.roles = [str(r) for r in roles] if isinstance(roles, list) else []
        self.acting_party = session.acting_party or ""

    def _show_lookup(self, lookup: Lookup) -> None:
        """Show what a session lookup found: the user, or signed out (and why, if known)."""
        if lookup.session is None:
            self._show_signed_out(lookup.ended_reason)
        else:
            self._show(lookup.session)
        self.loaded = True

    async def _session(self, *, touch: bool = True) -> Session | None:
        """The live session behind this tab's cookie, re-read from the server; updates the page."""
        lookup = await get_flow().sessions.lookup(get_flow().cookies.session(self._cookies()), touch=touch)
        if lookup.session is None:
            self._show_signed_out(lookup.ended_reason)
        return lookup.session

    @rx.event
    @public
    async def load_session(self):
        """on_load: find the session from the cookie, never from this tab's state."""
        try:
            session = await self._session()
        except Exception as err:  # the session store is not answering
            # Say so, and show neither the user nor "signed out": nobody is signed out by it.
            self._show_signed_out()
            self._fail(err, "session lookup")
            self.loaded = False
            return
        if self.error_code == StoreUnavailable.code:
            self.error_code = ""  # answering again
        if session is not None:
            self._show(session)
        self.pending = ""
        self.loaded = True

    @rx.event
    @public
    async def require_sign_in(self):
        """on_load of a protected page: show it to a signed-in visitor; send anyone else to sign in,
        back to this page (path and query) afterwards."""
        await self.load_session()
        if not self.loaded or self.signed_in or self.router.url.path.rstrip("/") == get_flow().config.callback_path:
            return  # (not loaded: the store is not answering, and the page says so)
        if get_flow().cookies.sign_in_done(self._cookies()):
            # A sign-in finished in this browser a moment ago, yet no session cookie came with
            # it: the browser refused that cookie. Say so; sending it round again would loop.
            self.error_code = "session_not_kept"
            return
        async for event in self.sign_in():
            yield event

    @rx.event
    @public
    async def heartbeat(self, _tick: str = ""):
        """Every second while signed in: notice a sign-out elsewhere, refresh tokens ahead of time."""
        await self._check(retry=False)

    @rx.event
    @public
    async def retry_refresh(self):
        """"Retry now": try the provider again without waiting out the retry interval."""
        await self._check(retry=True)

    async def _check(self, *, retry: bool) -> None:
        if not self.signed_in:
            return
        try:
            session = await self._session(touch=False)
            if session is None:
                return
            if retry:
                await get_flow().sessions.end_refresh_wait(session.key)
            renewed = await get_flow().lifecycle.keep_fresh(session)
            if renewed is None:
                return  # still under way: the next tick looks again
            if not renewed:
                if self.provider_unreachable:  # (assigning marks it changed: a delta to send)
                    self.provider_unreachable = False  # nothing due: the tokens are good
                if claim_rows(session.claims) != self.claims:
                    self._show(session)  # refreshed meanwhile (another tab or tick): new claims
                return
            refreshed = await self._session(touch=False)
        except SessionEnded as ended:
            self._show_signed_out(ended.reason)
            return
        except ProviderUnavailable:
            self.provider_unreachable = True
            return
        except StoreUnavailable:
            _store_down.warn()  # the tab stays as it is; the next tick tries again
            return
        except Exception:
            log.exception("session check failed")  # the next tick tries again
            return
        self.provider_unreachable = False
        if refreshed is not None:
            self._show(refreshed)  # a refreshed ID token may carry new claims

    @rx.event
    @public
    async def sign_in(self):
        """Start sign-in: store the transaction on the server, send the tab on its way."""
        async for event in self._start_sign_in("default"):
            yield event

    @rx.event
    @public
    async def sign_up(self):
        """Start sign-in on the provider's sign-up screen ("Create account")."""
        async for event in self._start_sign_in("sign_up"):
            yield event

    @rx.event
    @public
    async def sign_in_with(self, option: str):
        """Start sign-in with one of the options the app declared; any other name means the default."""
        async for event in self._start_sign_in(option if isinstance(option, str) else "default"):
            yield event

    async def _start_sign_in(self, option: str):
        session = self.router.session
        if not allow_sign_in_start(session.session_id, session.client_token, time.monotonic()):
            self.pending, self.error_code, self.provider_error = "", "too_many_attempts", ""  # nothing stored
            return
        # The page the user is on is where they come back to; the flow keeps
        # only a same-origin path, and the callback page's is home.
        page = self.router.url
        flow = get_flow()
        return_path = page.path + (f"?{page.query}" if page.query else "")
        binding = flow.cookies.binding(self._cookies())
        starting = asyncio.ensure_future(
            flow.start_sign_in(return_path, option, binding=binding if valid_binding(binding) else None)
        )
        try:
            spinning = not await _done_soon(starting)
            if spinning:
                self._show_pending("sign_in")
                yield
            start_url = await starting
        except Exception as err:
            self._fail(err, "starting sign-in")
            return
        # Usually: the script first, then the spinner, which the page applies as it starts
        # leaving and shows while the browser waits for the provider (`page_load`).
        yield page_load(start_url, after_next_update=not spinning)
        if not spinning:
            self._show_pending("sign_in")

    def _show_pending(self, action: str) -> None:
        self.pending = action
        self.error_code = self.provider_error = ""

    @rx.event
    @public
    async def finish_sign_in(self):
        """on_load of /callback: finish the sign-in, then go back to the page it started on.

        Where the backend serves the pages, the callback request has finished it already: its
        page carried where to go and went there by itself (nothing to do here), or, where it
        couldn't, the request left its outcome to read; otherwise the code is exchanged here
        and the session handed over.
        """
        params = dict(self.router.url.query_parameters)
        flow = get_flow()
        if set(params) == {"app_error"}:
            self.pending, self.error_code, self.provider_error = "", str(params["app_error"]), ""
            return
        cookies = self._cookies()
        kept = flow.cookies.callback_result(cookies)
        if kept is not None and kept[1] == "carried":
            return  # the callback request signed in; its page carried where to go and went (first_state.py)
        binding = flow.cookies.binding(cookies)
        # The state changes only where there is something to show: React renders a change
        # before the route change sent after it.
        if self.error_code or self.provider_error:  # an earlier try's, in this tab
            self.error_code = self.provider_error = ""
        result: dict[str, str] | None
        try:
            if kept is not None and kept[1] == "pending":
                self.pending = "finish"
                yield  # "Signing in..." while the provider takes its time
                result = await _wait_for_callback_result(kept[0], binding)
            else:
                result = await flow.take_callback_result(kept[0] if kept else None, binding)
            if result is None and kept is not None and await self._session(touch=False) is not None:
                # The callback request signed in but couldn't keep its outcome: home, signed in.
                result = {"return_url": flow.config.base_url + "/"}
            if result is None:
                result = {"handoff_url": await flow.finish_sign_in(params, binding)}
        except Exception as err:
            result = failure(err)
        if "return_url" in result:
            yield rx.redirect(result["return_url"], replace=True)  # same origin: no page load
        elif "handoff_url" in result:
            yield take_session(result["handoff_url"])
        else:
            self._show_callback_result(result)

    def _show_callback_result(self, result: dict[str, str]) -> None:
        """Why the callback's sign-in failed."""
        self.pending = ""
        self.error_code = result.get("error_code") or "default"
        self.provider_error = result.get("provider_error", "")

    @rx.event
    @public
    async def sign_out(self):
        """End the session on the server and at the provider, then clear the cookie."""
        flow = get_flow()
        ending = asyncio.ensure_future(flow.sign_out(flow.cookies.session(self._cookies())))
        try:
            spinning = not await _done_soon(ending)
            if spinning:
                self._show_pending("sign_out")
                yield
            signed_out = await ending
        except Exception:
            log.exception("sign-out failed")
            self.pending = ""
            self.error_code = "sign_out_failed"
            await self._session()  # show what is true now: signed out if the session did end
            return
        # As for sign-in: the script, then the spinner (until the page is gone; the next page
        # load shows signed out); then the rest is done behind it.
        yield page_load(signed_out.url, after_next_update=not spinning)
        if not spinning:
            self._show_pending("sign_out")
            yield
        await asyncio.shield(flow.finish_sign_out(signed_out))  # however the handler ends
