"""The sign-in and sign-out flows, step by step, in the order of the specs.

Event handlers and backend routes each call one method here. Sign-in:

1. `start_sign_in` (Sign in handler): new transaction stored; the tab goes to
   the start route, or, when its websocket carried the browser's binding
   cookie, straight to the provider with the transaction bound to it.
2. `claim_sign_in` (start route): the transaction is bound to this browser's
   binding cookie; the browser goes to the provider.
3. `finish_sign_in` (callback page's on_load): state, `iss`, code exchange,
   ID token; the result waits in a handoff bound to the same cookie.
4. `complete_sign_in` (session route): the handoff becomes a session and the
   session cookie is set.

Sign-out: `sign_out` (handler) ends the session; the tab goes to the
signed-out route while `finish_sign_out` runs the app's hook and revokes
the refresh token; `complete_sign_out` (signed-out route) clears the cookie
and sends the browser to the provider's end-session endpoint.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from reflex_logto.config import AuthConfig
from reflex_logto.errors import AuthorizationDenied, InvalidCallback, SignInError
from reflex_logto.oidc.client import OidcClient, TokenSet
from reflex_logto.oidc.options import DEFAULT, SIGN_UP, SignInOptions
from reflex_logto.reflex.cookies import CookiePolicy
from reflex_logto.sessions.hooks import Hooks
from reflex_logto.sessions.lifecycle import SessionLifecycle
from reflex_logto.sessions.return_paths import safe_return_path
from reflex_logto.sessions.sealing import Sealer
from reflex_logto.sessions.store import Session, SessionStore
from reflex_logto.sessions.stores import Storage
from reflex_logto.sessions.transactions import HandoffStore, SignInTransaction, TransactionStore, new_transaction

log = logging.getLogger(__name__)

MAX_PARAMETER_LENGTH = 4096  # characters; codes and states are far shorter
MAX_ERROR_DESCRIPTION_LENGTH = 300  # characters shown on the page


@dataclasses.dataclass(frozen=True)
class SignedOut:
    url: str
    """Where the browser goes: for a tab, the signed-out route, which clears the cookie."""
    tokens: TokenSet | None = dataclasses.field(repr=False)
    """The ended session's, for `finish_sign_out`; None if there was none."""


def _param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_PARAMETER_LENGTH:
        raise InvalidCallback(f"callback parameter {name!r} is malformed")
    return value


def _printable(text: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return cleaned[:MAX_ERROR_DESCRIPTION_LENGTH]


class SignInFlow:
    def __init__(
        self,
        config: AuthConfig,
        client: OidcClient,
        storage: Storage,
        *,
        backend_url: str,
        sign_in_options: Mapping[str, SignInOptions] | None = None,
        hooks: Hooks | None = None,
    ):
        self.config = config
        self.sign_in_options = {"default": DEFAULT, "sign_up": SIGN_UP, **(sign_in_options or {})}
        self.hooks = hooks or Hooks()
        self.client = client
        self.backend_url = backend_url.rstrip("/")
        self.routes_url = self.backend_url + config.routes_prefix
        sealer = Sealer(config.cookie_secret.reveal(), tuple(s.reveal() for s in config.previous_cookie_secrets))
        self.transactions = TransactionStore(storage, sealer)
        self.handoffs = HandoffStore(storage, sealer)
        self.sessions = SessionStore(
            storage, sealer, max_age=config.session_max_age, idle_timeout=config.session_idle_timeout
        )
        self.lifecycle = SessionLifecycle(client, self.sessions)
        self.cookies = CookiePolicy.from_config(config)
        self.storage = storage

    @property
    def home_url(self) -> str:
        return self.config.post_logout_redirect_uri

    def callback_error_url(self, code: str) -> str:
        return f"{self.config.redirect_uri}?app_error={code}"

    # -- sign-in -------------------------------------------------------------

    async def start_sign_in(self, return_path: str | None, option: str = "default", *, binding: str | None = None) -> str:
        """Store a new transaction; return where the tab goes next.

        With the browser's `binding` (its sign-in cookie, which the tab's websocket
        carried), the transaction is bound to it at once and the tab goes straight to
        the provider; without, to the start route, which binds it. `option` names one
        of the app's declared sign-in options; unknown: the default. A sign-in started
        on the callback page (its Try again) comes back to the home page.
        """
        txn = new_transaction(self._return_path(return_path))
        options = self.sign_in_options.get(option, self.sign_in_options["default"])
        authorization_url = await self.client.authorization_url(
            state=txn.state, nonce=txn.nonce, code_verifier=txn.code_verifier, options=options
        )
        await self.transactions.save(txn, authorization_url)
        log.debug("sign-in started, returns to %s", txn.return_path)
        if binding is not None:
            claimed = await self.claim_sign_in(txn.id, binding)
            if claimed is not None:
                return claimed
        return f"{self.routes_url}/sign-in/{txn.id}"

    def _return_path(self, candidate: str | None) -> str:
        path = safe_return_path(candidate)
        on_callback = urlsplit(path).path.rstrip("/") == self.config.callback_path.rstrip("/")
        return "/" if on_callback else path

    async def claim_sign_in(self, txn_id: str, binding: str) -> str | None:
        """Bind the transaction to this browser; the provider URL, or None if it can't be."""
        url = await self.transactions.claim(txn_id, binding)
        log.debug("sign-in transaction %s", "claimed" if url else "not claimable (unknown, used or expired)")
        return url

    async def finish_sign_in(self, params: Mapping[str, Any], binding: str | None) -> str:
        """Check the authorization response and redeem the code; return the session route's URL.

        Raises:
            SignInError: a subclass naming what went wrong; nothing was stored.
        """
        txn, tokens = await self.redeem(params, binding)
        return await self.handoff_sign_in(txn, tokens, binding)

    async def redeem(self, params: Mapping[str, Any], binding: str | None) -> tuple[SignInTransaction, TokenSet]:
        """Every check of the authorization response, then the code exchange and the ID token's.

        Raises:
            SignInError: a subclass naming what went wrong; nothing was stored.
        """
        state = _param(params, "state")
        if not state:
            raise InvalidCallback("the callback has no state")
        # The transaction first, even for an error response: only a response to a
        # sign-in this browser started gets its words shown on the page.
        txn = await self.transactions.take(state, binding)
        log.debug("callback: state matches a transaction this browser started")
        await self._check_issuer(_param(params, "iss"))
        error = _param(params, "error")
        if error:
            raise AuthorizationDenied(_printable(error), _printable(_param(params, "error_description") or ""))
        code = _param(params, "code")
        if not code:
            raise InvalidCallback("the callback has no code")
        tokens = await self.client.exchange_code(code=code, code_verifier=txn.code_verifier, nonce=txn.nonce)
        log.debug("callback: code redeemed, ID token valid (sub %s)", tokens.claims.get("sub"))
        return txn, tokens

    async def _check_issuer(self, iss: str | None) -> None:
        """RFC 9207: the response names its issuer; it must be ours, and present if promised."""
        metadata = await self.client.metadata()
        if iss is None:
            if metadata.iss_parameter_supported:
                raise InvalidCallback("the provider promises an iss parameter, and the callback has none")
        elif iss != metadata.issuer:
            raise InvalidCallback("the callback's iss names another issuer")

    async def handoff_sign_in(self, txn: SignInTransaction, tokens: TokenSet, binding: str | None) -> str:
        """Keep a redeemed sign-in for the session route to pick up; that route's URL."""
        assert binding  # take() has checked it
        handoff_id = await self.handoffs.create(
            "sign_in", binding, {"tokens": tokens.to_dict(), "return_path": txn.return_path}
        )
        return f"{self.routes_url}/session/{handoff_id}"

    async def complete_sign_in(
        self, handoff_id: str, binding: str | None, previous_session_id: str | None = None, *, user_agent: str = ""
    ) -> tuple[str, str] | None:
        """Create the session for a finished sign-in: (session id, return URL), or None.

        A session the browser held before is ended: its cookie is about to be replaced.
        """
        handoff = await self.handoffs.take("sign_in", handoff_id, binding)
        if handoff is None:
            return None
        session_id, return_url, _ = await self.start_session(
            TokenSet.from_dict(handoff["tokens"]), handoff["return_path"], previous_session_id, user_agent=user_agent
        )
        return session_id, return_url

    async def start_session(
        self, tokens: TokenSet, return_path: str, previous_session_id: str | None, *, user_agent: str = ""
    ) -> tuple[str, str, Session]:
        """Create the session for a redeemed sign-in, ending the one the browser held before:
        (session id, return URL, the session). Called where the response sets the session cookie."""
        try:
            async with self.storage.atomic():
                session_id, session = await self.sessions.open(tokens, user_agent=user_agent)
                replaced = await self.sessions.delete(previous_session_id, "replaced")
        except Exception:
            # Redis takes each step on its own: a sign-in that can't be kept must not
            # leave its grant alive (nor, on SQLite, one that rolled back).
            if tokens.refresh_token:
                await self.client.revoke(tokens.refresh_token)
            raise
        log.debug("session created")
        await self.hooks.signed_in(tokens.claims, tokens)
        if replaced and replaced.refresh_token:
            await self.client.revoke(replaced.refresh_token)
        return session_id, self.config.base_url + safe_return_path(return_path), session

    async def save_callback_result(self, result_id: str, binding: str, result: Mapping[str, str]) -> None:
        """Keep how the callback request's sign-in ended, for the callback page's tab to read once:
        where to go, the session route to fetch, or why it failed (no token, no session id)."""
        await self.handoffs.create("callback_result", binding, dict(result), handoff_id=result_id)

    async def take_callback_result(self, result_id: str | None, binding: str | None) -> dict[str, str] | None:
        """The callback request's outcome, once, for the browser that started the sign-in."""
        if not result_id:
            return None
        return await self.handoffs.take("callback_result", result_id, binding)

    # -- sign-out ------------------------------------------------------------

    async def sign_out(self, session_id: str | None, *, from_a_route: bool = False) -> SignedOut:
        """End the session here; return where the browser goes (and what `finish_sign_out` needs).

        A tab goes to the signed-out route, which clears the cookie and sends it on; a route,
        which clears the cookie in its own answer (`from_a_route`), sends it on itself: to the
        provider's end-session endpoint, or home if there was no session or no provider to tell.
        """
        tokens = await self.sessions.delete(session_id)
        if tokens is None or session_id is None:
            return SignedOut(self.home_url if from_a_route else f"{self.routes_url}/signed-out", None)
        log.debug("session ended")
        try:
            destination = await self.client.end_session_url() or self.home_url
        except SignInError as err:
            log.warning("provider logout skipped: %s", err)
            destination = self.home_url
        log.debug("sign-out: browser goes to %s", "home" if destination == self.home_url else "the provider's end-session endpoint")
        if from_a_route:
            return SignedOut(destination, tokens)
        handoff_id = await self.handoffs.create("sign_out", session_id, {"url": destination})
        return SignedOut(f"{self.routes_url}/signed-out/{handoff_id}", tokens)

    async def finish_sign_out(self, signed_out: SignedOut) -> None:
        """What remains once the tab is on its way: the app's hook, and the refresh token
        revoked at the provider (best effort, neither ever raises)."""
        if signed_out.tokens is None:
            return
        await self.hooks.signed_out(signed_out.tokens.claims)
        if signed_out.tokens.refresh_token:
            revoked = await self.client.revoke(signed_out.tokens.refresh_token)
            log.debug("refresh token %s", "revoked" if revoked else "not revoked")

    async def complete_sign_out(self, handoff_id: str | None, session_id: str | None) -> str:
        """Where the browser goes once its cookie is cleared."""
        handoff = await self.handoffs.take("sign_out", handoff_id, session_id) if handoff_id else None
        return handoff["url"] if handoff else self.home_url
