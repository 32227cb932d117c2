"""The OpenID provider as the app sees it: one function per protocol step.

`OidcClient` is the one process-wide client: the configuration, the discovery
document and key set (cached), and one pooled HTTP client. Authlib builds the
requests (PKCE, client authentication, token and revocation bodies); this
module orders the steps and turns every library or network failure into one
of the errors in `errors.py`.

One `AsyncOAuth2Client` serves every user, so only return values are used:
`update_token` stays unset, and after each token request the client's own
`token` is emptied, so it never holds one user's tokens for the next request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import authlib.deprecate  # noqa: F401  (installs its filter first, so ours below wins)
import httpx
from authlib.common.urls import add_params_to_uri

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and warns when it finds httpx, which
    # is what Reflex itself ships and what this package pins.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from reflex_logto.config import AuthConfig
from reflex_logto.errors import (
    ConfigurationError,
    InvalidAccessToken,
    InvalidIdToken,
    InvalidProviderMetadata,
    ProviderUnavailable,
    RefreshRejected,
    SignInError,
    Step,
    TokenRequestFailed,
    UnknownSigningKey,
    translate,
)
from reflex_logto.oidc.access_token import check_access_token
from reflex_logto.oidc.id_token import validate_id_token
from reflex_logto.oidc.logto import authorization_resources
from reflex_logto.oidc.metadata import ProviderMetadata, import_signing_keys, parse_metadata
from reflex_logto.oidc.options import DEFAULT, SignInOptions
from reflex_logto.oidc.tokens import TokenSet, access_token_of, token_set

log = logging.getLogger(__name__)

T = TypeVar("T")

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # seconds
METADATA_TTL = 60 * 60  # 1 hour, in seconds
JWKS_REFETCH_INTERVAL = 30  # seconds between key set re-fetches for unknown kids
REVOCATION_TIMEOUT = 3.0  # seconds: revocation is best effort, never a wait for the user
MAX_RESPONSE_BYTES = 1024 * 1024  # 1 MiB: no honest discovery, key set or token response is near it


class OidcClient:
    """The configured provider: discovery, keys, and the protocol steps."""

    def __init__(self, config: AuthConfig, *, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self._http = AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret.reveal(),
            scope=" ".join(config.scopes),
            redirect_uri=config.redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
            transport=transport,
            follow_redirects=False,
        )
        for hook in ("access_token_response", "refresh_token_response"):
            self._http.register_compliance_hook(hook, _check_token_response)
        self._metadata: ProviderMetadata | None = None
        self._metadata_expires = 0.0
        self._metadata_lock = asyncio.Lock()
        self._keys: KeySet | None = None
        self._keys_refreshed_at = float("-inf")
        self._keys_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- discovery and keys -------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched once an hour at most (single-flight)."""
        if self._metadata and time.monotonic() < self._metadata_expires:
            return self._metadata
        async with self._metadata_lock:
            if self._metadata and time.monotonic() < self._metadata_expires:
                return self._metadata
            document = await self._get_json("discovery", self.config.discovery_url)
            self._metadata = parse_metadata(document, self.config.issuer)
            self._metadata_expires = time.monotonic() + METADATA_TTL
            log.debug("discovery loaded from %s", self.config.discovery_url)
            return self._metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys; `refresh` re-fetches them, once per 30 s at most.

        A rotated key is picked up at once; a stream of tokens with made-up
        `kid`s costs the provider one request per interval.
        """
        async with self._keys_lock:
            if self._keys is not None and refresh:
                if time.monotonic() - self._keys_refreshed_at < JWKS_REFETCH_INTERVAL:
                    log.warning("key set re-fetch skipped: the last one was under %ss ago", JWKS_REFETCH_INTERVAL)
                    return self._keys
                self._keys_refreshed_at = time.monotonic()
            elif self._keys is not None:
                return self._keys
            metadata = await self.metadata()
            self._keys = import_signing_keys(await self._get_json("keys", metadata.jwks_uri))
            log.debug("key set loaded: %d key(s)", len(self._keys.keys))
            return self._keys

    # -- protocol steps -----------------------------------------------------

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, options: SignInOptions = DEFAULT
    ) -> str:
        """The authorization request: code flow, PKCE S256, state and nonce, and the app's options.

        By default `prompt=consent`, as Logto's SDKs send: it is how
        `offline_access` yields a refresh token (OpenID Connect Core 1.0, section 11).
        """
        metadata = await self.metadata()
        url, _ = self._http.create_authorization_url(
            metadata.authorization_endpoint,
            state=state,
            code_verifier=code_verifier,
            nonce=nonce,
            response_type="code",
            **options.params(),
        )
        # RFC 8707: one `resource` parameter per API the grant should cover.
        for resource in authorization_resources(self.config.scopes, self.config.resources):
            url += "&" + urllib.parse.urlencode({"resource": resource})
        return url

    async def exchange_code(self, *, code: str, code_verifier: str, nonce: str) -> TokenSet:
        """Redeem the authorization code and validate the ID token that comes back."""
        metadata = await self.metadata()
        token = await self._token_request(
            "code_exchange",
            metadata.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
            redirect_uri=self.config.redirect_uri,
        )
        access_token = access_token_of(token)
        if not token.get("id_token"):
            raise InvalidIdToken("the token response has no id_token")
        claims = await self.validate_id_token(token["id_token"], nonce=nonce, access_token=access_token)
        issued = token_set(token, claims, refresh_token=token.get("refresh_token") or None)
        acting = _act_sub(claims.get("act")) or await self._verified_act(access_token)
        return dataclasses.replace(issued, acting_party=acting)

    async def _verified_act(self, access_token: str) -> str | None:
        """`act.sub` of an access token that is a JWT signed by the provider (RFC 8693), else None."""
        if access_token.count(".") != 2:
            return None  # opaque
        metadata = await self.metadata()
        try:
            claims = jwt.decode(access_token, await self.keys(), algorithms=list(metadata.id_token_algorithms)).claims
        except (JoseError, ValueError, TypeError, KeyError):
            return None  # not ours to read: no impersonation shown
        exp = claims.get("exp")
        current = isinstance(exp, (int, float)) and exp > time.time()
        return _act_sub(claims.get("act")) if claims.get("iss") == metadata.issuer and current else None

    async def refresh(self, current: TokenSet) -> TokenSet:
        """Use the refresh token (RFC 6749, section 6); check any new ID token against the old.

        Raises:
            RefreshRejected: the provider refused the refresh token (revoked, expired, reused).
            ProviderUnavailable: the provider could not be reached or failed.
        """
        token = await self._refresh_grant(current)
        access_token = access_token_of(token)
        claims = current.claims
        id_token = token.get("id_token") or current.id_token
        if token.get("id_token"):
            # OpenID Connect Core 1.0, section 12.2: same iss, sub and aud as the first one.
            claims = await self.validate_id_token(token["id_token"], nonce=None, access_token=access_token)
            for name in ("iss", "sub", "aud"):
                if claims.get(name) != current.claims.get(name):
                    raise InvalidIdToken(f"the refreshed ID token has another {name}")
        # A provider that doesn't rotate refresh tokens sends none back: keep the one we have.
        refresh_token = token.get("refresh_token") or current.refresh_token
        refreshed = token_set(token, claims, refresh_token=refresh_token)
        # API tokens stay valid until they expire: keep them.
        return dataclasses.replace(refreshed, id_token=id_token, resource_tokens=current.resource_tokens)

    async def resource_token(self, current: TokenSet, resource: str) -> tuple[dict[str, Any], str | None]:
        """An access token for an API resource (RFC 8707), by the refresh token grant.

        Returns the token ({access_token, refresh_at}) and the rotated refresh token, if any.
        """
        token = await self._refresh_grant(current, resource=resource, scope="")
        issued = token_set(token, current.claims, refresh_token=None)
        return {"access_token": issued.access_token, "refresh_at": issued.refresh_at}, token.get("refresh_token")

    async def organization_token(self, current: TokenSet, organization_id: str) -> tuple[dict[str, Any], str | None]:
        """An organization token (Logto): the refresh token grant with `organization_id`."""
        token = await self._refresh_grant(current, organization_id=organization_id, scope="")
        issued = token_set(token, current.claims, refresh_token=None)
        return {"access_token": issued.access_token, "refresh_at": issued.refresh_at}, token.get("refresh_token")

    async def userinfo(self, access_token: str, *, expected_sub: str) -> dict[str, Any]:
        """The UserInfo response (OpenID Connect Core 1.0, section 5.3); its `sub` must be the user's."""
        metadata = await self.metadata()
        if not metadata.userinfo_endpoint:
            raise InvalidProviderMetadata("the provider has no userinfo endpoint")
        try:
            response = await self._http.request(
                "GET", metadata.userinfo_endpoint, withhold_token=True,
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except httpx.HTTPError as err:
            raise translate(err, "userinfo") from err
        if response.status_code >= 500:
            raise ProviderUnavailable(f"userinfo: HTTP {response.status_code}")
        if response.status_code == 401:
            raise RefreshRejected("userinfo refused the access token")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise TokenRequestFailed(f"userinfo of {len(response.content)} bytes")
        try:
            info = response.json()
        except ValueError as err:
            raise TokenRequestFailed("userinfo is not JSON") from err
        if response.status_code != 200 or not isinstance(info, dict):
            raise TokenRequestFailed(f"userinfo: HTTP {response.status_code}")
        if info.get("sub") != expected_sub:
            raise InvalidIdToken("userinfo names another subject than the ID token")
        return info

    async def validate_id_token(self, id_token: Any, *, nonce: str | None, access_token: str | None) -> dict[str, Any]:
        """Check an ID token against the provider's keys, re-fetching them once for a new `kid`."""
        client_id = self.config.client_id
        return await self.verify_jwt(
            lambda keys, metadata: validate_id_token(
                id_token, keys, issuer=metadata.issuer, client_id=client_id, nonce=nonce,
                algorithms=metadata.id_token_algorithms, access_token=access_token,
            )
        )

    async def verify_access_token(
        self, token: str, *, resource: str, required_scopes: Iterable[str] = (), organization_id: str | None = None
    ) -> dict[str, Any]:
        """`check_access_token` with the provider's keys: the claims of a valid access token.

        Raises:
            InvalidAccessToken: answer 401. InsufficientScope: answer 403.
        """
        scopes = tuple(required_scopes)
        try:
            return await self.verify_jwt(
                lambda keys, metadata: check_access_token(
                    token, keys, issuer=metadata.issuer, resource=resource, algorithms=metadata.id_token_algorithms,
                    required_scopes=scopes, organization_id=organization_id,
                )
            )
        except UnknownSigningKey as err:
            raise InvalidAccessToken("signed with a key the provider does not list") from err

    async def verify_jwt(self, check: Callable[[KeySet, ProviderMetadata], T]) -> T:
        """Run a pure JWT check with the provider's keys and metadata; on an unknown `kid`,
        once more with the key set re-fetched (throttled). The one re-fetch path for ID,
        logout and access tokens.

        Raises:
            UnknownSigningKey: the key is still unknown after the re-fetch (or it was throttled).
        """
        metadata = await self.metadata()
        try:
            return check(await self.keys(), metadata)
        except UnknownSigningKey:
            return check(await self.keys(refresh=True), metadata)

    async def revoke(self, refresh_token: str) -> bool:
        """Revoke a refresh token (RFC 7009). Best effort: failures are logged, not raised."""
        try:
            metadata = await self.metadata()
            if not metadata.revocation_endpoint:
                return False
            response = await asyncio.wait_for(
                self._http.revoke_token(
                    metadata.revocation_endpoint, token=refresh_token, token_type_hint="refresh_token"
                ),
                REVOCATION_TIMEOUT,
            )
            if response.status_code != 200:
                log.warning("refresh token revocation answered %s", response.status_code)
            return response.status_code == 200
        except (TimeoutError, httpx.HTTPError, SignInError) as err:
            log.warning("refresh token revocation failed: %s", type(err).__name__)
            return False

    async def end_session_url(self) -> str | None:
        """RP-Initiated Logout 1.0: where to send the browser, or None if unsupported.

        `client_id` names the app, so the provider can check
        `post_logout_redirect_uri` against it. No `id_token_hint`: it would put
        the ID token in a URL the browser keeps in its history (Logto's own
        SDKs leave it out too).
        """
        metadata = await self.metadata()
        if not metadata.end_session_endpoint:
            return None
        return add_params_to_uri(
            metadata.end_session_endpoint,
            {"client_id": self.config.client_id, "post_logout_redirect_uri": self.config.post_logout_redirect_uri},
        )

    async def check_client_credentials(self) -> None:
        """Check that the provider accepts the app's client ID and secret, by redeeming a
        made-up authorization code: `invalid_grant` (the code is bad) means the credentials
        passed. Nothing is issued; used by `python -m reflex_logto check`.

        Raises:
            ConfigurationError: the provider refused the credentials (invalid_client),
                naming LOGTO_APP_ID and LOGTO_APP_SECRET.
            SignInError: any other answer, or the provider could not be reached.
        """
        metadata = await self.metadata()
        try:
            await self._token_request(
                "code_exchange",
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=secrets.token_urlsafe(32),
                code_verifier=secrets.token_urlsafe(48),
                redirect_uri=self.config.redirect_uri,
            )
        except TokenRequestFailed as err:
            error = getattr(err.__cause__, "error", None)
            if error == "invalid_grant":
                return
            if error == "invalid_client":
                raise ConfigurationError(str(err)) from err
            raise
        raise TokenRequestFailed("the token endpoint accepted a made-up authorization code")

    # -- plumbing -----------------------------------------------------------

    async def _refresh_grant(self, current: TokenSet, **params: str) -> dict[str, Any]:
        """A refresh token grant, its failures translated: refused (the session is over) or unavailable."""
        if not current.refresh_token:
            raise RefreshRejected("the session has no refresh token")
        metadata = await self.metadata()
        # No `scope`: the grant's own (RFC 6749, section 6). Authlib would otherwise send the
        # client's whole configured scope, which Logto refuses when a part of it was not granted.
        params.setdefault("scope", "")
        return await self._token_request(
            "refresh", metadata.token_endpoint, grant_type="refresh_token", refresh_token=current.refresh_token, **params
        )

    async def _token_request(self, step: Step, url: str, **params: str) -> dict[str, Any]:
        """A token endpoint request; the response as a dict of our own, failures translated."""
        try:
            return dict(await self._http.fetch_token(url, **params))
        except (OAuthError, httpx.HTTPError, ValueError) as err:
            raise translate(err, step) from err
        finally:
            # Authlib keeps the last response on the shared client; drop it, so
            # a request that forgot `withhold_token` fails instead of sending it.
            self._http.token = {}

    async def _get_json(self, step: Step, url: str) -> Any:
        try:
            response = await self._http.request("GET", url, withhold_token=True)
            if response.status_code >= 500:
                raise ProviderUnavailable(f"GET {url}: HTTP {response.status_code}")
            if response.status_code != 200:
                raise InvalidProviderMetadata(f"GET {url}: HTTP {response.status_code}{_hint(step, url, response.status_code)}")
            if len(response.content) > MAX_RESPONSE_BYTES:
                raise InvalidProviderMetadata(f"GET {url}: {len(response.content)} bytes")
            return response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise translate(err, step) from err


def _hint(step: Step, url: str, status: int) -> str:
    """What to change when discovery is not where the settings say."""
    if step != "discovery" or status != 404:
        return ""
    if "/oidc/oidc/" in url:
        return " (LOGTO_ENDPOINT must not end in /oidc: drop it)"
    return " (is LOGTO_ENDPOINT, or OIDC_ISSUER, the provider's URL?)"


def _act_sub(act: Any) -> str | None:
    return str(act["sub"]) if isinstance(act, dict) and act.get("sub") else None


def _check_token_response(response: httpx.Response) -> httpx.Response:
    """A token endpoint answering 5xx is down, whatever its body says; one answering megabytes is broken."""
    if response.status_code >= 500:
        raise ProviderUnavailable(f"token endpoint: HTTP {response.status_code}")
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise TokenRequestFailed(f"token response of {len(response.content)} bytes")
    return response
