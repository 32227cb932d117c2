"""Start the development provider (or find the one already running) from Python.

The app uses `ensure_running` when no provider is configured; the tests use
`start` for a provider of their own on a free port. Either way it is the same
`server.mjs`, and `DevProvider` is a small client for its admin API.

The provider is Node code (panva's oidc-provider, pinned by the
`package-lock.json` beside this file). Its Node packages are installed once,
with npm, into a cache folder that the scripts are copied into as well, so
the package works from a wheel as from a checkout.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from reflex_logto.config import LOCAL_DIR, make_local_dir

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SCRIPTS = ("server.mjs", "adapter.mjs", "pages.mjs", "package.json", "package-lock.json")
DEFAULT_USERS = HERE / "users.json"
PREFERRED_PORT = 3001  # Logto's own default
START_TIMEOUT = 20.0  # seconds
INSTALL_TIMEOUT = 300.0  # seconds for `npm ci`
DEFAULT_STATE_DIR = Path(LOCAL_DIR) / "dev-provider"
CLIENT_ID = "reflex-dev-app"


class DevProviderError(RuntimeError):
    """The development provider can't be installed or started; the message says what to do."""


def runtime_dir() -> Path:
    """Where the provider's scripts and Node packages live: one folder per lock file."""
    configured = os.environ.get("LOGTO_DEV_PROVIDER_HOME", "").strip()
    if configured:
        return Path(configured)
    lock = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "reflex-logto" / f"devprovider-{lock}"


def install() -> Path:
    """The runtime folder, with oidc-provider installed (once, by `npm ci`) and the scripts current.

    Raises:
        DevProviderError: Node.js or npm is missing, or npm failed.
    """
    node = shutil.which("node")
    if node is None:
        raise DevProviderError(
            "Node.js is not on PATH: the development provider needs Node.js 20 or newer "
            "(Reflex needs it too); or set LOGTO_ENDPOINT to use a real provider"
        )
    home = runtime_dir()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install at a time across processes
        for name in SCRIPTS:
            source, target = HERE / name, home / name
            if not target.exists() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)
        if not (home / "node_modules" / "oidc-provider" / "package.json").is_file():
            _npm_ci(home)
    return home


def _npm_ci(home: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise DevProviderError("npm is not on PATH: it installs the development provider (oidc-provider) once")
    # On the terminal of `reflex run`, not only in the log: this takes a few seconds, once.
    print("reflex-logto: installing the development provider (oidc-provider from npm, once)...", file=sys.stderr, flush=True)
    try:
        result = subprocess.run(
            [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=home, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as err:
        raise DevProviderError(f"npm ci did not finish within {INSTALL_TIMEOUT:.0f}s in {home}") from err
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise DevProviderError(f"npm ci failed in {home}: {last}")


@dataclass
class DevProvider:
    """A running development provider and its admin API."""

    origin: str
    admin_token: str
    pid: int
    process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"{self.origin}/oidc"

    def _admin(self, method: str, path: str, body: dict | None = None) -> dict:
        response = httpx.request(
            method,
            f"{self.origin}/_dev/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        if response.status_code != 200:
            raise DevProviderError(f"{method} /_dev/{path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def put_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str,
        backend_url: str | None = None,
        callback_path: str = "/callback",
        routes_prefix: str = "/auth",
        **metadata,
    ) -> None:
        """Register (or replace) a confidential client whose app lives at `base_url`.

        Its back-channel logout endpoint is on `backend_url` (the app's own
        origin unless dev mode splits the backend off). Metadata may set token
        lifetimes in seconds: access_token_ttl, id_token_ttl, refresh_token_ttl.
        """
        base_url = base_url.rstrip("/")
        backend_url = (backend_url or base_url).rstrip("/")
        self._admin(
            "PUT",
            f"clients/{client_id}",
            {
                "client_secret": client_secret,
                "client_name": metadata.pop("client_name", "Reflex app"),
                "redirect_uris": [f"{base_url}{callback_path}"],
                "post_logout_redirect_uris": [f"{base_url}/"],
                "backchannel_logout_uri": f"{backend_url}{routes_prefix}/backchannel-logout",
                "backchannel_logout_session_required": True,
                **metadata,
            },
        )

    def put_user(
        self, username: str, password: str, *, api_scopes: list[str] | None = None,
        organizations: list[dict] | None = None, **claims,
    ) -> str:
        """Add (or replace) a user, holding `api_scopes` of the API resources and member of
        `organizations` ([{"id", "roles"}]); returns its `sub`."""
        body = {"password": password, "claims": claims, "api_scopes": api_scopes or [], "organizations": organizations or []}
        return self._admin("PUT", f"users/{username}", body)["sub"]

    def put_resource(self, indicator: str, scopes: list[str]) -> None:
        """Add (or replace) an API resource (RFC 8707) whose access tokens are JWTs."""
        self._admin("PUT", f"resources/{urllib.parse.quote(indicator, safe='')}", {"scopes": scopes})

    def counts(self) -> dict[str, int]:
        """Requests served so far, per path (e.g. "/oidc/token")."""
        return self._admin("GET", "counts")

    def set_delays(self, delays: dict[str, int]) -> None:
        """Make the given paths answer this many milliseconds late ({} for none)."""
        self._admin("PUT", "delays", delays)

    def set_failures(self, failures: dict[str, int]) -> None:
        """Make the given paths answer with this HTTP status ({} for none): an outage."""
        self._admin("PUT", "failures", failures)

    def healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("issuer") == self.issuer

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(
    state_dir: Path,
    *,
    port: int = 0,
    owner_pid: int | None = None,
    log_file: Path | None = None,
    users_file: Path | None = None,
) -> DevProvider:
    """Start a new provider process and wait until it serves discovery; it stops when
    `owner_pid` does (by default, this process)."""
    owner_pid = owner_pid or os.getpid()
    home = install()
    node = shutil.which("node") or "node"
    make_local_dir(state_dir)
    ready_file = state_dir / f"ready-{secrets.token_hex(4)}.json"
    admin_token = secrets.token_urlsafe(32)
    log = open(log_file or state_dir / "provider.log", "ab")
    process = subprocess.Popen(
        [node, str(home / "server.mjs"), "--port", str(port), "--state-dir", str(state_dir.resolve()),
         "--ready-file", str(ready_file.resolve()), "--users", str((users_file or DEFAULT_USERS).resolve()),
         *(["--owner-pid", str(owner_pid)] if owner_pid else [])],
        cwd=home,
        env={**os.environ, "DEV_PROVIDER_ADMIN_TOKEN": admin_token, "NODE_NO_WARNINGS": "1"},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,  # Ctrl-C in the terminal stops reflex; the provider follows its owner
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevProviderError(f"the development provider exited (code {process.returncode}); see {state_dir / 'provider.log'}")
        if ready_file.exists() and ready_file.stat().st_size:
            info = json.loads(ready_file.read_text())
            ready_file.unlink()
            return DevProvider(origin=info["origin"], admin_token=admin_token, pid=process.pid, process=process)
        time.sleep(0.05)
    process.kill()
    raise DevProviderError(f"the development provider did not start within {START_TIMEOUT:.0f}s")


def ensure_running(state_dir: Path, *, owner_pid: int | None = None, users_file: Path | None = None) -> DevProvider:
    """The provider recorded in `state_dir` if it still answers, else a new one.

    A new one stops when `owner_pid` does (by default, this process).
    """
    owner_pid = owner_pid or os.getpid()
    make_local_dir(state_dir)
    record = state_dir / "provider.json"
    with open(state_dir / "launch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one launch at a time across reflex's processes
        users = str((users_file or DEFAULT_USERS).resolve())
        if record.exists():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                known = json.loads(record.read_text())
                running = DevProvider(origin=known["origin"], admin_token=known["admin_token"], pid=known["pid"])
                if known.get("users") == users and running.healthy():
                    return running
                if running.healthy():  # ours, but started with other users: replace it
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(running.pid, signal.SIGTERM)
                    _wait_for_exit(running)
        port = PREFERRED_PORT if _port_free(PREFERRED_PORT) else 0
        provider = start(state_dir, port=port, owner_pid=owner_pid, users_file=users_file)
        _write_private(
            record, {"origin": provider.origin, "admin_token": provider.admin_token, "pid": provider.pid, "users": users}
        )
        return provider


def _wait_for_exit(provider: DevProvider, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and provider.healthy():
        time.sleep(0.05)


def _write_private(path: Path, value: dict) -> None:
    """Write JSON readable by this user only, from the first byte."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        json.dump(value, file)


def _app_secrets(state_dir: Path) -> dict[str, str]:
    """The development app's client and cookie secrets, made once (under the launch lock)."""
    app_file = state_dir / "app.json"
    with open(state_dir / "launch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not app_file.exists():
            _write_private(app_file, {
                "client_secret": secrets.token_urlsafe(32),
                "cookie_secret": secrets.token_urlsafe(48),
            })
        return json.loads(app_file.read_text())


def app_settings(
    base_url: str,
    *,
    backend_url: str | None = None,
    owner_pid: int | None = None,
    state_dir: Path | None = None,
    users_file: Path | None = None,
    api_resources: Mapping[str, Sequence[str]] | None = None,
    callback_path: str = "/callback",
    routes_prefix: str = "/auth",
) -> dict[str, str]:
    """Environment for the app to sign in against the development provider at `base_url`.

    `api_resources` registers APIs (RFC 8707 indicators, or paths under
    `base_url`) with the scopes each knows.
    """
    state_dir = state_dir or DEFAULT_STATE_DIR
    provider = ensure_running(state_dir, owner_pid=owner_pid, users_file=users_file)
    app = _app_secrets(state_dir)
    base_url = base_url.rstrip("/")
    provider.put_client(
        CLIENT_ID, app["client_secret"], base_url=base_url, backend_url=backend_url,
        callback_path=callback_path, routes_prefix=routes_prefix, client_name="Reflex app",
    )
    for indicator, scopes in (api_resources or {}).items():
        provider.put_resource(base_url + indicator if indicator.startswith("/") else indicator, list(scopes))
    return {
        "LOGTO_ENDPOINT": provider.origin,
        "LOGTO_APP_ID": CLIENT_ID,
        "LOGTO_APP_SECRET": app["client_secret"],
        "LOGTO_BASE_URL": base_url,
        "LOGTO_COOKIE_SECRET": app["cookie_secret"],
    }
