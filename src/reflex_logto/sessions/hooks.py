"""App code that runs at sign-in and sign-out, e.g. to keep a users table up to date."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from reflex_logto.oidc.client import TokenSet

log = logging.getLogger(__name__)

OnSignIn = Callable[[dict[str, Any], TokenSet], Awaitable[None]]
OnSignOut = Callable[[dict[str, Any]], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Hooks:
    on_sign_in: OnSignIn | None = None
    """Once after every successful sign-in, with the ID token's claims and the tokens."""
    on_sign_out: OnSignOut | None = None
    """Once after the user signs out (the Sign out button), with the claims of the
    session that ended; not for sessions that expire or are ended elsewhere."""

    async def signed_in(self, claims: dict[str, Any], tokens: TokenSet) -> None:
        if self.on_sign_in is not None:
            await _run("on_sign_in", self.on_sign_in(claims, tokens))

    async def signed_out(self, claims: dict[str, Any]) -> None:
        if self.on_sign_out is not None:
            await _run("on_sign_out", self.on_sign_out(claims))


HOOK_TIMEOUT = 5.0  # seconds a hook may hold up the user's sign-in or sign-out


async def _run(name: str, call: Awaitable[None]) -> None:
    # The session is already made (or ended): a failing hook is the app's bug to
    # log, not a reason to undo the user's sign-in or sign-out.
    try:
        await asyncio.wait_for(call, HOOK_TIMEOUT)
    except TimeoutError:
        log.error("%s hook took longer than %ss and was cancelled", name, HOOK_TIMEOUT)
    except Exception:
        log.exception("%s hook failed", name)
