"""Server-side cost of each sign-in step, against the real development provider.

    .venv/bin/python bench/server_side.py [--runs 300]

Prints median and p95 (milliseconds) of what the app itself does per step,
with warm caches: the provider's own time (each HTTP exchange with it) is
measured separately and taken out. Also counts discovery and JWKS fetches
after warm-up (the target is 0), and runs `--concurrent` sign-ins at once
(each its own browser: all started together, then all finished together, the
provider's token requests included), counting errors.

    --store sqlite | redis | postgres   where the sessions live (Redis and PostgreSQL
                                        are Debian's, started here on free ports)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEMO_USERS = ROOT / "app" / "dev_users.json"
# Reflex lets state classes be instantiated directly (as the handlers are run
# here, without a websocket) only under a test runner; this is one.
os.environ.setdefault("PYTEST_CURRENT_TEST", "bench/server_side.py")

from stats import percentile  # noqa: E402  (bench/ is the script's own folder)

from reflex_logto.config import AuthConfig  # noqa: E402
from reflex_logto.devprovider.launcher import start  # noqa: E402
from reflex_logto.reflex import runtime  # noqa: E402
from reflex_logto.reflex.routes import auth_routes  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402
from tests.support.provider_browser import ProviderBrowser  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.reflex_state import auth_state, navigation, run  # noqa: E402

BASE = "http://localhost:3999"


class ProviderClock(httpx.AsyncBaseTransport):
    """The real network, timed: how long the app waits on the provider."""

    def __init__(self):
        self._inner = httpx.AsyncHTTPTransport()
        self.waited = 0.0
        self.paths: list[str] = []

    async def handle_async_request(self, request):
        started = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        await response.aread()
        self.waited += time.perf_counter() - started
        self.paths.append(request.url.path)
        return response


def report(name: str, samples: list[float]) -> None:
    p95 = percentile(samples, 0.95)
    print(f"| {name:<44} | {statistics.median(samples) * 1000:8.3f} | {p95 * 1000:8.3f} | {len(samples):5d} |")


async def concurrent_sign_ins(flow, routes, people: ProviderBrowser, count: int) -> None:
    """`count` sign-ins at once, each its own browser; prints the wall time of each phase and the errors."""

    async def begin():
        browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=routes), base_url=BASE)
        start_url = navigation(await run(auth_state("/").sign_in))
        return browser, (await browser.get(start_url)).headers["location"]

    async def finish(browser, callback: str):
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        page = auth_state(f"/callback?{urllib.parse.urlsplit(callback).query}", cookie=cookie)
        response = await browser.get(navigation(await run(page.finish_sign_in)))
        assert response.status_code == 303 and "logto_session" in browser.cookies, "no session"
        return browser.cookies["logto_session"]

    def errors(results) -> list[str]:
        return [f"{type(r).__name__}: {r}"[:160] for r in results if isinstance(r, BaseException)]

    t = time.perf_counter()
    begun = await asyncio.gather(*(begin() for _ in range(count)), return_exceptions=True)
    started = time.perf_counter() - t
    ok = [b for b in begun if not isinstance(b, BaseException)]
    callbacks = [(browser, people.sign_in(authorize, "demo", "demo-password")) for browser, authorize in ok]
    t = time.perf_counter()
    finished = await asyncio.gather(*(finish(*pair) for pair in callbacks), return_exceptions=True)
    done = time.perf_counter() - t
    session_ids = [f for f in finished if isinstance(f, str)]
    t = time.perf_counter()
    found = await asyncio.gather(*(flow.sessions.lookup(s, touch=False) for s in session_ids), return_exceptions=True)
    resolved = time.perf_counter() - t
    failures = errors(begun) + errors(finished) + errors(found)
    failures += ["not found"] * sum(1 for f in found if not isinstance(f, BaseException) and f.session is None)
    print(f"\n{count} sign-ins at once: all started in {started * 1000:.0f} ms, all finished in {done * 1000:.0f} ms "
          f"(the provider's token requests included), all {len(session_ids)} sessions resolved in {resolved * 1000:.0f} ms; "
          f"errors {len(failures)}")
    for failure in failures[:5]:
        print("  ", failure)
    for browser, _ in callbacks:
        await browser.aclose()


async def main(runs: int, store: str, concurrent: int) -> None:
    state = Path(tempfile.mkdtemp(prefix="bench-"))
    redis = postgres = None
    if store == "redis":
        (state / "redis").mkdir()
        redis = RedisServer(state / "redis")
    elif store == "postgres":
        postgres = PostgresServer()
    print(f"sessions in {store}")
    provider = start(state / "provider", port=0, owner_pid=os.getpid(), users_file=DEMO_USERS)
    secret = secrets.token_urlsafe(32)
    provider.put_client("bench", secret, base_url=BASE, refresh_token_ttl=3600)
    clock = ProviderClock()
    config = AuthConfig.from_env({
        "LOGTO_ENDPOINT": provider.origin, "LOGTO_APP_ID": "bench", "LOGTO_APP_SECRET": secret,
        "LOGTO_BASE_URL": BASE, "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        "LOGTO_SESSION_DB": str(state / "sessions.sqlite3"),
        **({"LOGTO_SESSION_DB_URL": redis.url} if redis else {}),
        **({"LOGTO_SESSION_DB_URL": postgres.url} if postgres else {}),
    })
    runtime.configure(config, backend_url=BASE, transport=clock)
    flow = runtime.get_flow()
    routes = auth_routes()
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=routes), base_url=BASE)
    people = ProviderBrowser(provider.origin)

    start_costs, finish_costs, resolve_costs, refresh_costs = [], [], [], []
    await flow.client.metadata()
    await flow.client.keys()
    warm = len(clock.paths)
    session_ids = []
    for _ in range(runs):
        # Start: the Sign in handler (no provider call with warm caches).
        page = auth_state("/")
        t = time.perf_counter()
        start_url = navigation(await run(page.sign_in))
        start_costs.append(time.perf_counter() - t)
        authorize = (await browser.get(start_url)).headers["location"]
        callback = people.sign_in(authorize, "demo", "demo-password")
        query = urllib.parse.urlsplit(callback).query
        # Finish: callback handler + session route, less the token request's wait.
        page = auth_state(f"/callback?{query}", cookie="; ".join(f"{k}={v}" for k, v in browser.cookies.items()))
        clock.waited = 0.0
        t = time.perf_counter()
        session_route = navigation(await run(page.finish_sign_in))
        response = await browser.get(session_route)
        finish_costs.append(time.perf_counter() - t - clock.waited)
        session_ids.append(browser.cookies["logto_session"])
        browser.cookies.delete("logto_session")  # the next sign-in is someone else's, not a replacement
        assert response.status_code == 303
    fetches = [p for p in clock.paths[warm:] if p.endswith(("openid-configuration", "/jwks"))]

    for session_id in session_ids * 5:
        t = time.perf_counter()
        found = await flow.sessions.lookup(session_id, touch=False)
        resolve_costs.append(time.perf_counter() - t)
        assert found.session is not None

    for session_id in session_ids[: min(runs, 100)]:
        session = (await flow.sessions.lookup(session_id)).session
        tokens = await flow.sessions.tokens(session.key)
        assert await flow.sessions.take_refresh_lease(session.key, "bench")
        assert await flow.sessions.save_refreshed(session.key, "bench", tokens.__class__(**{**tokens.to_dict(), "refresh_at": 0}))
        clock.waited = 0.0
        t = time.perf_counter()
        await flow.lifecycle.fresh_tokens(session.__class__(**{**session.__dict__, "refresh_at": 0}))
        refresh_costs.append(time.perf_counter() - t - clock.waited)

    print("| step (the app's own work)                    | median ms |   p95 ms |  runs |")
    print("|----------------------------------------------|----------:|---------:|------:|")
    report("start a sign-in (Sign in handler)", start_costs)
    report("finish a sign-in (callback + session route)", finish_costs)
    report("resolve a session from its cookie", resolve_costs)
    report("refresh (less the provider's time)", refresh_costs)
    print(f"\ndiscovery/JWKS fetches after warm-up: {len(fetches)} over {runs} sign-ins")
    if concurrent:
        await concurrent_sign_ins(flow, routes, people, concurrent)
    await browser.aclose()
    await runtime.shutdown()
    people.close()
    provider.stop()
    if redis:
        redis.stop()
    if postgres:
        postgres.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--store", choices=["sqlite", "redis", "postgres"], default="sqlite",
                        help="where sessions live (redis, postgres: Debian's servers, started here)")
    parser.add_argument("--concurrent", type=int, default=200, help="sign-ins at once, after the timed runs (0: none)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.store, arguments.concurrent))
