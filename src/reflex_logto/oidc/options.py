"""Sign-in options an app declares: which screen, which account, which connector.

The browser never sends these values; it can only name an option the app
declared (`AuthState.sign_in_with("sign_up")`), and an unknown name means
the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

# Parameters the flow sets itself; an option can't override them.
_RESERVED = frozenset(
    {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
     "code_challenge_method", "request", "request_uri", "response_mode"}
)


@dataclasses.dataclass(frozen=True)
class SignInOptions:
    first_screen: str | None = None
    """Logto's first screen: "register" (sign-up), "sign_in", "identifier:register", "identifier:sign_in",
    "reset_password" or "single_sign_on"."""
    interaction_mode: str | None = None
    """Older Logto's equivalent: "signUp"."""
    login_hint: str | None = None
    """An email, phone or username to prefill (OpenID Connect Core 1.0, 3.1.2.1)."""
    direct_sign_in: str | None = None
    """Skip Logto's screen for one connector, e.g. "social:google"."""
    prompt: str = "consent"
    """What Logto's SDKs send; "consent" is how offline_access yields a refresh token."""
    extra_params: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def params(self) -> dict[str, str]:
        named = {
            "first_screen": self.first_screen,
            "interaction_mode": self.interaction_mode,
            "login_hint": self.login_hint,
            "direct_sign_in": self.direct_sign_in,
            "prompt": self.prompt,
        }
        params = {**{k: str(v) for k, v in self.extra_params.items()}, **{k: v for k, v in named.items() if v}}
        clash = _RESERVED & set(params)
        if clash:
            raise ValueError(f"sign-in options can't set {sorted(clash)}: the flow sets them")
        return params


DEFAULT = SignInOptions()
# What Logto's SDKs send for sign-up: `first_screen=register` (Logto 1.18 and later), and the
# older `interaction_mode=signUp`, which Logto before first_screen reads instead.
SIGN_UP = SignInOptions(first_screen="register", interaction_mode="signUp")
