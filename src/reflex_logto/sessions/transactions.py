"""Sign-in transactions and handoffs: created on the server, used once, short-lived.

A transaction holds what the callback needs (state, nonce, PKCE verifier,
return path). It is bound to the browser that started it by that browser's
binding cookie (random, HttpOnly): the Sign in handler claims it at once
when the tab's websocket carried the cookie, the start route otherwise (and
sets the cookie); only a callback that brings that cookie can take it.
`take` deletes as it reads, so a replayed callback finds nothing; a callback
without that cookie takes nothing, so it can't spend the sign-in of the
browser that has it.

Every Sign in click stores one, so what is kept is bounded. An unclaimed
transaction lives `CLAIM_WINDOW` (the browser follows the start route at
once); claiming it gives it `TRANSACTION_TTL` from then. A binding holds at
most `MAX_PER_BINDING` claimed ones (a claim drops that browser's oldest), and
the store at most `MAX_TRANSACTIONS` (an insert drops the oldest unclaimed
first, then the oldest claimed). How often one page may start a sign-in is
`reflex_logto.reflex.rate_limits`'.

A handoff carries a finished sign-in (or sign-out) from a Reflex event handler
to a backend route that can set or clear the HttpOnly cookie. It is bound to a
cookie the same way, and used once.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
import time
from typing import Any

from reflex_logto.errors import InvalidTransaction
from reflex_logto.sessions.sealing import Sealer, SealError
from reflex_logto.sessions.stores import Storage, digest

log = logging.getLogger(__name__)

TRANSACTION_TTL = 10 * 60  # 10 minutes from the claim, in seconds: to sign in at the provider
CLAIM_WINDOW = 60  # seconds an unclaimed transaction waits: the browser follows the start route at once
MAX_PER_BINDING = 5  # claimed transactions per browser: a tab or two signing in at once, with room to spare
MAX_TRANSACTIONS = 50_000  # in the whole store: beyond it, a flood (real traffic is a few per second)
FLOOD_WARNING_INTERVAL = 60  # seconds between two warnings that the store is at MAX_TRANSACTIONS
HANDOFF_TTL = 60  # seconds: the browser follows a handoff at once


@dataclasses.dataclass(frozen=True)
class SignInTransaction:
    id: str
    state: str
    nonce: str
    code_verifier: str
    return_path: str


def new_transaction(return_path: str) -> SignInTransaction:
    """Fresh random values for one sign-in (RFC 7636 verifier: 43+ characters)."""
    return SignInTransaction(
        id=secrets.token_urlsafe(24),
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(64),
        return_path=return_path,
    )


class TransactionStore:
    def __init__(self, storage: Storage, sealer: Sealer):
        self._storage = storage
        self._sealer = sealer
        self._warned_at = float("-inf")
        self._evicted = 0  # since the last warning

    async def save(self, txn: SignInTransaction, authorization_url: str, *, now: float | None = None) -> None:
        """Store a new, unclaimed transaction for `CLAIM_WINDOW`; never refused (the oldest make room)."""
        now = time.time() if now is None else now
        payload = {**dataclasses.asdict(txn), "authorization_url": authorization_url}
        sealed = self._sealer.seal(payload, record=txn.id)
        evicted = await self._storage.insert_transaction(
            txn.id, digest(txn.state), sealed, now + CLAIM_WINDOW, now=now, limit=MAX_TRANSACTIONS
        )
        if evicted:
            self._warn_flood(evicted, now)

    def _warn_flood(self, evicted: int, now: float) -> None:
        """One warning a minute at most, however fast the flood comes."""
        self._evicted += evicted
        if now - self._warned_at < FLOOD_WARNING_INTERVAL:
            return
        log.warning(
            "%d sign-in transactions are stored, the most kept: a flood of sign-in starts? "
            "%d dropped to make room (the oldest unclaimed first) since the last warning",
            MAX_TRANSACTIONS, self._evicted,
        )
        self._warned_at, self._evicted = now, 0

    async def claim(self, txn_id: str, binding: str, *, now: float | None = None) -> str | None:
        """Bind an unclaimed transaction to this browser for `TRANSACTION_TTL`; return where to send it, or None."""
        now = time.time() if now is None else now
        payload = await self._storage.claim_transaction(
            txn_id, digest(binding), now, expires_at=now + TRANSACTION_TTL, per_binding=MAX_PER_BINDING
        )
        if payload is None:
            return None
        return self._open(txn_id, payload)["authorization_url"]

    async def take(self, state: str, binding: str | None, *, now: float | None = None) -> SignInTransaction:
        """Remove and return the transaction for `state`, if this browser started it.

        Raises:
            InvalidTransaction: none is waiting, it expired, or another browser holds it.
        """
        now = time.time() if now is None else now
        # Only the browser that started it can take it: a callback brought by another one (a
        # forged login, a link opened elsewhere) leaves the real one's sign-in as it was.
        record = await self._storage.take_transaction(digest(state), digest(binding) if binding else None)
        if record is None:
            raise InvalidTransaction(
                "no sign-in is waiting for this state in this browser (unknown, already used, or started in another browser)"
            )
        if record.expires_at <= now:
            raise InvalidTransaction("the sign-in transaction expired")
        if not record.binding_hash or not binding or not hmac.compare_digest(record.binding_hash, digest(binding)):
            raise InvalidTransaction("the callback came from another browser than the one that started it")  # a store that took it anyway
        value = self._open(record.id, record.payload)
        value.pop("authorization_url", None)
        return SignInTransaction(**value)

    def _open(self, record: str, blob: bytes) -> dict[str, Any]:
        try:
            return self._sealer.open(blob, record=record)
        except SealError as err:
            raise InvalidTransaction("the sign-in transaction does not open with the current secret") from err


class HandoffStore:
    def __init__(self, storage: Storage, sealer: Sealer):
        self._storage = storage
        self._sealer = sealer

    async def create(
        self, kind: str, binding: str, payload: dict[str, Any], *, handoff_id: str | None = None, now: float | None = None
    ) -> str:
        """Store a handoff; its id (a fresh one, or `handoff_id` as `new_id` made it earlier)."""
        now = time.time() if now is None else now
        handoff_id = handoff_id or self.new_id()
        sealed = self._sealer.seal(payload, record=handoff_id)
        await self._storage.insert_handoff(handoff_id, kind, digest(binding), sealed, now + HANDOFF_TTL, now=now)
        return handoff_id

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(24)

    async def take(self, kind: str, handoff_id: str, binding: str | None, *, now: float | None = None) -> dict[str, Any] | None:
        """Remove and return the handoff if it is of this kind, fresh, and this cookie's."""
        now = time.time() if now is None else now
        record = await self._storage.take_handoff(handoff_id)
        if record is None:
            return None
        if record.kind != kind or record.expires_at <= now or not binding:
            return None
        if not hmac.compare_digest(record.binding_hash, digest(binding)):
            return None
        try:
            return self._sealer.open(record.payload, record=handoff_id)
        except SealError:
            return None
