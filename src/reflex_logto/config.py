"""Sign-in settings: read once at start-up, validated, frozen."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from reflex_logto.errors import ConfigurationError
from reflex_logto.sessions.stores import REDIS_SCHEMES, postgres_url

DEFAULT_SCOPES = ("openid", "offline_access", "profile", "email")
MIN_COOKIE_SECRET_LENGTH = 32
SESSION_MAX_AGE = 14 * 24 * 60 * 60  # 14 days, in seconds, as Logto's Next.js SDK
SESSION_IDLE_TIMEOUT = 24 * 60 * 60  # 24 hours, in seconds, without a page load or action
LOCAL_DIR = ".reflex-logto"
"""The package's folder in the app's working directory (Reflex empties its own `.states`)."""
DEFAULT_SESSION_DB = f"{LOCAL_DIR}/sessions.sqlite3"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class Secret:
    """A string that keeps itself out of logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """Everything the sign-in package needs to know about the app and its provider."""

    issuer: str
    """The expected `iss`: Logto's `<endpoint>/oidc`, or OIDC_ISSUER as given."""
    client_id: str
    client_secret: Secret
    base_url: str
    """The app's public origin (and path prefix, if any), without a trailing slash."""
    cookie_secret: Secret
    previous_cookie_secrets: tuple[Secret, ...] = ()
    """Older secrets: what they sealed still opens; nothing new is sealed with them."""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    debug: bool = False
    session_db: str = DEFAULT_SESSION_DB
    """The SQLite file of the embedded store (one machine)."""
    session_db_url: Secret | None = None
    """A Redis or PostgreSQL URL: the networked store shared by several workers or machines (it may hold a password)."""
    session_max_age: int = SESSION_MAX_AGE
    """Seconds from sign-in until the session ends, however active."""
    session_idle_timeout: int = SESSION_IDLE_TIMEOUT
    """Seconds without use after which the session ends."""
    cookie_name: str = "logto_session"
    """The session cookie's name; the sign-in cookie's is `<name less "_session">_signin`.
    Over https both are prefixed `__Host-` (or `__Secure-`, with a cookie domain)."""
    cookie_domain: str | None = None
    """A parent domain to share the session cookie with its subdomains; None keeps it on this host."""
    resources: tuple[str, ...] = ()
    """API resources (RFC 8707 indicators) the app asks access tokens for."""
    account_url: str | None = None
    """Where users manage their account at the provider (profile, password, MFA), if set."""
    callback_path: str = "/callback"
    """The page the provider sends the browser back to (register `<base_url><callback_path>` at the provider)."""
    routes_prefix: str = "/auth"
    """Where the package's backend routes live: `<prefix>/sign-in/...`, `<prefix>/backchannel-logout`."""
    frame_ancestors: str = "'none'"
    """Who may frame the app's pages (CSP frame-ancestors): `'none'`, `'self'`, or https origins."""

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}{self.callback_path}"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def origin(self) -> str:
        """The app's origin (scheme://host[:port]), as browsers send it in `Origin`."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthConfig:
        """Build the config from environment variables, naming any that is wrong.

        Raises:
            ConfigurationError: a variable is missing or malformed.
        """
        endpoint = environ.get("LOGTO_ENDPOINT", "").strip()
        oidc_issuer = environ.get("OIDC_ISSUER", "").strip()
        if endpoint and oidc_issuer:
            raise ConfigurationError(
                "LOGTO_ENDPOINT and OIDC_ISSUER are both set: set LOGTO_ENDPOINT for "
                "Logto, or OIDC_ISSUER for any other OpenID provider, not both"
            )
        if endpoint:
            endpoint = _provider_url("LOGTO_ENDPOINT", endpoint)
            if endpoint.endswith("/oidc"):
                # Logto's issuer is <endpoint>/oidc: this one would look for <...>/oidc/oidc.
                raise ConfigurationError(
                    f"LOGTO_ENDPOINT is Logto's own URL, without /oidc: set it to {endpoint.removesuffix('/oidc')!r} "
                    "(the issuer is that plus /oidc)"
                )
            issuer = endpoint + "/oidc"
        elif oidc_issuer:
            issuer = _provider_url("OIDC_ISSUER", oidc_issuer)
        else:
            raise ConfigurationError(
                "LOGTO_ENDPOINT is not set: set it to your Logto endpoint "
                "(or OIDC_ISSUER for another OpenID provider)"
            )

        cookie_secret = _cookie_secret("LOGTO_COOKIE_SECRET", _required(environ, "LOGTO_COOKIE_SECRET"))
        previous = environ.get("LOGTO_COOKIE_SECRET_PREVIOUS", "").replace(",", " ").split()
        base_url = _base_url(_required(environ, "LOGTO_BASE_URL"))
        return cls(
            issuer=issuer,
            client_id=_required(environ, "LOGTO_APP_ID"),
            client_secret=Secret(_required(environ, "LOGTO_APP_SECRET")),
            base_url=base_url,
            cookie_secret=Secret(cookie_secret),
            previous_cookie_secrets=tuple(
                Secret(_cookie_secret("LOGTO_COOKIE_SECRET_PREVIOUS", value)) for value in previous
            ),
            scopes=_scopes(environ.get("LOGTO_SCOPES", "")),
            debug=_flag(environ, "LOGTO_DEBUG"),
            session_db=environ.get("LOGTO_SESSION_DB", "").strip() or DEFAULT_SESSION_DB,
            session_db_url=_session_db_url(environ),
            session_max_age=_duration(environ, "LOGTO_SESSION_MAX_AGE", SESSION_MAX_AGE),
            session_idle_timeout=_duration(environ, "LOGTO_SESSION_IDLE_TIMEOUT", SESSION_IDLE_TIMEOUT),
            cookie_name=_cookie_name(environ.get("LOGTO_COOKIE_NAME", "").strip() or "logto_session"),
            cookie_domain=_cookie_domain(environ.get("LOGTO_COOKIE_DOMAIN", "").strip(), base_url),
            resources=_resources(environ.get("LOGTO_RESOURCES", "")),
            account_url=_provider_url("LOGTO_ACCOUNT_URL", account) if (account := environ.get("LOGTO_ACCOUNT_URL", "").strip()) else None,
            callback_path=_path(environ, "LOGTO_CALLBACK_PATH", "/callback"),
            routes_prefix=_path(environ, "LOGTO_ROUTES_PREFIX", "/auth"),
            frame_ancestors=_frame_ancestors(environ.get("LOGTO_FRAME_ANCESTORS", "")),
        )


REFLEX_DB = "reflex"
"""LOGTO_SESSION_DB_URL's word for "the database of Reflex's own `db_url`"."""


def _session_db_url(environ: Mapping[str, str]) -> Secret | None:
    """LOGTO_SESSION_DB_URL (a URL, or `reflex`), or else the Redis that Reflex's own state is kept in, if any."""
    url = environ.get("LOGTO_SESSION_DB_URL", "").strip()
    name = "LOGTO_SESSION_DB_URL"
    if url == REFLEX_DB:
        url = _reflex_db_url(environ) or ""  # SQLite there: as if unset
    if not url:
        url, name = environ.get("REFLEX_REDIS_URL", "").strip(), "REFLEX_REDIS_URL"
        if not url:
            return None
        if urlsplit(url).scheme not in REDIS_SCHEMES:
            raise ConfigurationError(f"{name} must be a redis://, rediss:// or unix:// URL")
        return Secret(url)
    if urlsplit(url).scheme in REDIS_SCHEMES:
        return Secret(url)
    if postgres := postgres_url(url):
        return Secret(postgres)
    raise ConfigurationError(
        f"{name} must be a redis://, rediss://, unix:// or postgresql:// URL, or {REFLEX_DB!r} for Reflex's db_url "
        "(for SQLite, set LOGTO_SESSION_DB to a file path)"
    )


def _reflex_db_url(environ: Mapping[str, str]) -> str | None:
    """The PostgreSQL of Reflex's `db_url` (REFLEX_DB_URL, else rxconfig.py); None when
    that is SQLite (as in development) or unset."""
    url = environ.get("REFLEX_DB_URL", "").strip()
    if not url:
        from reflex.config import get_config

        url = (get_config().db_url or "").strip()
    if not url or url.startswith("sqlite"):
        return None
    if postgres := postgres_url(url):
        return postgres
    # Named by its scheme only: the rest may hold a password.
    raise ConfigurationError(
        f"LOGTO_SESSION_DB_URL=reflex keeps sessions in Reflex's db_url, which must then be PostgreSQL or SQLite, "
        f"not {url.partition(':')[0]}"
    )


def make_local_dir(path: Path) -> Path:
    """Create `path` (and its parents); a `.reflex-logto` folder among them ignores itself
    in git, so keys and sessions are never committed by accident."""
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        if folder.name == LOCAL_DIR and not (folder / ".gitignore").exists():
            (folder / ".gitignore").write_text("# reflex-logto's keys and sessions: never commit them\n*\n")
    return path


def read_environ(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The process environment over the values of a `.env` file (the environment wins).

    The file is `.env` in the working directory, or the one LOGTO_ENV_FILE names.
    """
    env_file = env_file or os.environ.get("LOGTO_ENV_FILE") or ".env"
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**values, **os.environ}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set: see .env.example")
    return value


def _https_url(name: str, value: str, *, expected: str = "an absolute https:// URL") -> str:
    """An absolute URL without query or fragment; plain HTTP only on this machine, where
    nobody else can listen in (and cookies can't be Secure or __Host- over it anyway)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{name} must be {expected}, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must not have a query or fragment, got {value!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{name} must use https:// (plain http is allowed for localhost only), got {value!r}"
        )
    return value.rstrip("/")


def _provider_url(name: str, value: str) -> str:
    return _https_url(name, value)


def _base_url(value: str) -> str:
    return _https_url("LOGTO_BASE_URL", value, expected="the app's absolute URL, like http://localhost:3000")


def _cookie_secret(name: str, value: str) -> str:
    if len(value) < MIN_COOKIE_SECRET_LENGTH:
        raise ConfigurationError(
            f"{name} must be at least {MIN_COOKIE_SECRET_LENGTH} characters long (it has {len(value)})"
        )
    return value


_COOKIE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~")


def _cookie_name(value: str) -> str:
    if not set(value) <= _COOKIE_NAME_CHARS or value.startswith("__") or len(value) > 64:
        raise ConfigurationError(
            f"LOGTO_COOKIE_NAME must be a plain cookie name (letters, digits, - _ .; no __ prefix), got {value!r}"
        )
    return value


def _cookie_domain(value: str, base_url: str) -> str | None:
    if not value:
        return None
    domain = value.lstrip(".").lower()
    host = (urlsplit(base_url).hostname or "").lower()
    if _is_ip(host) or _is_ip(domain):
        raise ConfigurationError(f"LOGTO_COOKIE_DOMAIN needs the app on a domain name, not an IP address, got {value!r}")
    # A browser keeps a cookie only for a domain that contains the page's host.
    if "." not in domain or not (host == domain or host.endswith(f".{domain}")):
        raise ConfigurationError(
            f"LOGTO_COOKIE_DOMAIN must be the app's host or a parent domain of it ({host}), got {value!r}"
        )
    return domain


def _path(environ: Mapping[str, str], name: str, default: str) -> str:
    """A path on the app, like /callback: one or more plain segments, no trailing slash."""
    value = environ.get(name, "").strip() or default
    segments = value.split("/")
    plain = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
    if segments[0] != "" or len(segments) < 2 or not all(s and set(s.lower()) <= plain and s not in (".", "..") for s in segments[1:]):
        raise ConfigurationError(f"{name} must be a path like {default} (letters, digits, - _ .), got {value!r}")
    return value


_UNITS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}


def _duration(environ: Mapping[str, str], name: str, default: int) -> int:
    """Seconds, written as a number of seconds or with a unit: 90, 30m, 24h, 14d."""
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    number, unit = (value[:-1], value[-1]) if value[-1] in _UNITS else (value, "s")
    if not number.isdigit() or int(number) <= 0:
        raise ConfigurationError(f"{name} must be a positive duration like 3600, 30m, 24h or 14d, got {value!r}")
    return int(number) * _UNITS[unit]


def _resources(value: str) -> tuple[str, ...]:
    resources = tuple(dict.fromkeys(value.replace(",", " ").split()))
    for resource in resources:
        parts = urlsplit(resource)
        if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment:
            raise ConfigurationError(f"LOGTO_RESOURCES must list absolute URIs without fragments, got {resource!r}")
        if resource.startswith("urn:logto:organization:"):
            raise ConfigurationError("LOGTO_RESOURCES lists APIs; organizations get organization tokens instead")
    return resources


def _scopes(value: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(value.replace(",", " ").split()))
    if not scopes:
        return DEFAULT_SCOPES
    # Without `openid` there is no ID token, and no sign-in.
    return scopes if "openid" in scopes else ("openid", *scopes)


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


def _frame_ancestors(value: str) -> str:
    """LOGTO_FRAME_ANCESTORS: `'none'` (the default), `'self'`, or https origins, space-separated
    (`'self'` may come with origins); the quotes around none and self may be left out."""
    sources = value.replace(",", " ").split()
    if not sources:
        return "'none'"
    keywords = {"none": "'none'", "'none'": "'none'", "self": "'self'", "'self'": "'self'"}
    normalized = [keywords.get(source.lower()) or _https_origin(source) or "" for source in sources]
    if "" in normalized or ("'none'" in normalized and len(normalized) > 1):
        raise ConfigurationError(
            "LOGTO_FRAME_ANCESTORS must be 'none', 'self', or https origins separated by spaces "
            f"(like https://parent.example), got {value!r}"
        )
    return " ".join(dict.fromkeys(normalized))


def _https_origin(value: str) -> str | None:
    """`value` as a lower-case https origin (scheme://host[:port]), or None if it is not one."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.lower()
    if parts.path not in ("", "/") or parts.query or parts.fragment or not set(host) <= _HOST_CHARS:
        return None
    return f"https://{host}" + (f":{port}" if port is not None else "")


_HOST_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
