"""`python -m reflex_logto`: make a cookie secret, or check the sign-in settings against the provider."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence

import httpx

from reflex_logto.config import AuthConfig, read_environ
from reflex_logto.errors import AuthError, ConfigurationError
from reflex_logto.oidc.client import OidcClient


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status: 0 when all is well, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m reflex_logto", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("secret", help="print a fresh value for LOGTO_COOKIE_SECRET")
    commands.add_parser("check", help="check discovery, the key set and the app's credentials at the provider")
    if parser.parse_args(argv).command == "secret":
        print(secrets.token_urlsafe(48))
        return 0
    return check()


def check() -> int:
    """Load the settings as the app does and try them on the provider, one line per check."""
    env = read_environ()
    if not env.get("LOGTO_ENDPOINT", "").strip() and not env.get("OIDC_ISSUER", "").strip():
        print(
            "FAIL configuration: LOGTO_ENDPOINT (or OIDC_ISSUER) is not set; "
            "`reflex run` would use the bundled development provider"
        )
        return 1
    try:
        config = AuthConfig.from_env(env)
    except ConfigurationError as err:
        print(f"FAIL configuration: {err}")
        return 1
    # What the provider must have registered for this app (Logto Console: the app's URIs).
    print(f"     redirect URI: {config.redirect_uri}")
    print(f"     post sign-out redirect URI: {config.post_logout_redirect_uri}")
    return asyncio.run(_check_provider(config))


async def _check_provider(config: AuthConfig) -> int:
    """Discovery, keys, credentials, in order: each needs the one before, so the first failure ends it."""
    client = OidcClient(config)
    try:
        for name, step in (("discovery", _discovery), ("keys", _keys), ("client", _credentials)):
            try:
                print(f"ok   {name}: {await step(client)}", flush=True)
            except (AuthError, httpx.HTTPError) as err:
                message = str(err) or type(err).__name__
                if name == "discovery" and config.discovery_url not in message:
                    message += f" (GET {config.discovery_url})"
                print(f"FAIL {name}: {message}")
                return 1
        return 0
    finally:
        await client.aclose()


async def _discovery(client: OidcClient) -> str:
    return f"issuer {(await client.metadata()).issuer}"


async def _keys(client: OidcClient) -> str:
    keys = (await client.keys()).keys
    algorithms = ", ".join(sorted({key.alg or key.key_type for key in keys}))
    return f"{len(keys)} signing key{'s' if len(keys) != 1 else ''} ({algorithms})"


async def _credentials(client: OidcClient) -> str:
    await client.check_client_credentials()
    return "the provider accepts LOGTO_APP_ID and LOGTO_APP_SECRET"


if __name__ == "__main__":
    sys.exit(main())
