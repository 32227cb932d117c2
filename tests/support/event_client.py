"""A user agent without a browser: plain HTTP for pages and redirects, and Reflex's event
protocol (Socket.IO over a websocket) for what a page does.

It speaks to the app as a tab does: a page load fetches the page's HTML (which, for the
callback, is the request that finishes the sign-in) and opens a websocket whose connect
packet carries the page's hydrate event; handlers are events sent on it; the app's answers
are state deltas and, to move the tab on, a full page load (`window.location`), the
callback's in-page handoff (`navigation.take_session`), or a client-side route change
(`rx.redirect`). Static assets are not fetched (a browser has them cached). Used by the
tab-state and HTTP-hardening tests and by bench/socket_load.py and bench/heartbeat.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import urllib.parse
import uuid
from typing import Any, Literal

import httpx
import websockets

from reflex_logto.reflex.account_state import AccountState
from reflex_logto.reflex.first_state import ELEMENT_ID
from reflex_logto.reflex.state import AuthState
from tests.support.provider_browser import forms

STATE = "reflex___state____state"
AUTH = AuthState.get_full_name()
ACCOUNT = AccountState.get_full_name()
ON_LOAD = f"{STATE}.reflex___state____on_load_internal_state.on_load_internal"
NAMESPACE = "/_event"
ANSWER_TIMEOUT = 60  # seconds: under load the app may queue events

_PAGE_LOAD = re.compile(r'window\.location\.(?:assign|replace)\(("[^"]+")\)')  # navigation.page_load
CARRIED = re.compile(rf'<script type="application/json" id="{ELEMENT_ID}">(.*?)</script>')  # first_state.py
CALLBACK_PATH = "/callback"
_HANDOFF = re.compile(r'^  const handoff = ("[^"]+");$', re.MULTILINE)


class ProtocolError(Exception):
    """The app answered something a browser would not have been able to use."""


@dataclasses.dataclass(frozen=True)
class Navigation:
    """Where the app sent the tab: a page `load`, the in-page `handoff`, or a client-side `route`."""

    kind: Literal["load", "handoff", "route"]
    url: str


class Tab:
    """One open page: its websocket, and the state it has been sent so far."""

    def __init__(self, socket, path: str):
        self.socket = socket
        self.path = path
        self.state: dict[str, dict[str, Any]] = {}
        self.navigations: list[Navigation] = []
        self.frames: list[str] = []  # everything received, for the leak checks
        self.new_token: str | None = None

    @classmethod
    async def connect(
        cls, base: str, token: str, url: str, cookie: str = "", *, origin: str | None = None, user_agent: str | None = None
    ) -> Tab:
        """Open the websocket of a page at `url` (its HTML already loaded, or not needed) and hydrate."""
        parts = urllib.parse.urlsplit(url)
        endpoint = f"{base.replace('http', 'ws', 1)}/_event/?token={token}&EIO=4&transport=websocket"
        extra = {"user_agent_header": user_agent} if user_agent else {}
        socket = await websockets.connect(
            endpoint, origin=origin or base, additional_headers={"Cookie": cookie} if cookie else None,
            open_timeout=ANSWER_TIMEOUT, **extra,
        )
        tab = cls(socket, parts.path or "/")
        opening = await tab._receive_frame()
        if not opening.startswith("0"):
            raise ProtocolError(f"no Engine.IO open packet: {opening[:80]}")
        hydrate = {"name": f"{STATE}.hydrate_and_load", "payload": {}, "router_data": _router_data(parts)}
        await socket.send(f"40{NAMESPACE},{json.dumps({'event': hydrate})}")
        return tab

    async def hydrated(self) -> Tab:
        """Wait until the page's state and on_load have come (or it was sent elsewhere)."""
        await self.wait(lambda: self.state.get(STATE, {}).get("is_hydrated_rx_state_") is True or self.navigations)
        return self

    async def send(self, handler: str, payload: dict | None = None, *, state: str = AUTH) -> None:
        event = {"name": f"{state}.{handler}", "payload": payload or {},
                 "router_data": {"pathname": self.path, "asPath": self.path}}
        await self.socket.send(f"42{NAMESPACE},{json.dumps(['event', event])}")

    async def route(self, url: str) -> Tab:
        """A client-side route change to `url`, as React Router does it: the same connection,
        the new page's on_load."""
        parts = urllib.parse.urlsplit(url)
        self.path = parts.path or "/"
        self.state.setdefault(STATE, {})["is_hydrated_rx_state_"] = False
        event = {"name": ON_LOAD, "payload": {}, "router_data": _router_data(parts)}
        await self.socket.send(f"42{NAMESPACE},{json.dumps(['event', event])}")
        return await self.hydrated()

    async def wait(self, condition) -> None:
        """Apply what arrives until `condition()` holds."""
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while not condition():
                frame = await self._receive_frame()
                if frame == "2":  # Engine.IO ping
                    await self.socket.send("3")
                elif frame.startswith(f"42{NAMESPACE},"):
                    name, *args = json.loads(frame[len(f"42{NAMESPACE},"):])
                    if name == "event":
                        self._apply(args[0])
                    elif name == "new_token":
                        self.new_token = args[0]

    async def navigation(self) -> Navigation:
        """Where the app sends the tab next."""
        await self.wait(lambda: self.navigations)
        return self.navigations.pop(0)

    def deltas(self) -> list[dict]:
        """The state deltas received, in order."""
        out = []
        for frame in self.frames:
            if frame.startswith(f"42{NAMESPACE},"):
                name, *args = json.loads(frame[len(f"42{NAMESPACE},"):])
                if name == "event" and args[0].get("delta"):
                    out.append(args[0]["delta"])
        return out

    def _apply(self, update: dict[str, Any]) -> None:
        for substate, values in (update.get("delta") or {}).items():
            self.state.setdefault(substate, {}).update(values)
        for event in update.get("events") or []:
            payload = event.get("payload", {})
            if event.get("name") == "_redirect":
                self.navigations.append(Navigation("route", payload["path"]))
            elif event.get("name") == "_call_script":
                code = payload.get("javascript_code", "")
                if match := _PAGE_LOAD.search(code):
                    self.navigations.append(Navigation("load", json.loads(match.group(1))))
                elif match := _HANDOFF.search(code):
                    self.navigations.append(Navigation("handoff", json.loads(match.group(1))))

    async def _receive_frame(self) -> str:
        frame = await self.socket.recv()
        frame = frame if isinstance(frame, str) else frame.decode()
        self.frames.append(frame)
        return frame

    def var(self, name: str, state: str = AUTH) -> Any:
        return self.state.get(state, {}).get(f"{name}_rx_state_")

    def auth(self, name: str) -> Any:
        return self.var(name)

    async def close(self) -> None:
        await self.socket.close()


def _carried_go(html: str) -> str | None:
    """Where a page's first state says to go at once (the callback page's), or None."""
    found = CARRIED.search(html)
    return json.loads(found.group(1)).get("go") if found else None


def _router_data(parts: urllib.parse.SplitResult) -> dict[str, Any]:
    path = parts.path or "/"
    data: dict[str, Any] = {"pathname": path, "asPath": path + (f"?{parts.query}" if parts.query else "")}
    if parts.query:
        data["query"] = dict(urllib.parse.parse_qsl(parts.query))
    return data


class UserAgent:
    """One user's browser: cookies for the app and the provider, one tab (token) at a time."""

    user_agent = "Mozilla/5.0 (X11; Linux x86_64) event-client/1.0"

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.app_host = parts.hostname
        self.token = str(uuid.uuid4())  # a tab's token, kept across its page loads
        self.http = httpx.AsyncClient(timeout=ANSWER_TIMEOUT, headers={"User-Agent": self.user_agent})

    def cookie_header(self) -> str:
        return "; ".join(
            f"{cookie.name}={cookie.value}" for cookie in self.http.cookies.jar
            if cookie.domain.removesuffix(".local") == self.app_host
        )

    async def open(self, url: str) -> Tab:
        """Load the page (its HTML, following redirects), connect, hydrate, run its on_load."""
        page = await self.http.get(urllib.parse.urljoin(self.base + "/", url), follow_redirects=True)
        page.raise_for_status()
        tab = await Tab.connect(self.base, self.token, str(page.url), self.cookie_header(), user_agent=self.user_agent)
        tab = await tab.hydrated()
        if go := _carried_go(page.text):  # the callback page goes on by itself (reflex/first_state.py)
            tab = await tab.route(go)
        return tab

    async def go(self, tab: Tab, to: Navigation, *, credentials: tuple[str, str] | None = None) -> Tab:
        """Move `tab` on as the browser would: the page it lands on, hydrated (the provider's
        forms, if it passes there, filled in with `credentials`)."""
        if to.kind == "route":
            return await tab.route(to.url)
        await tab.close()
        if to.kind == "handoff":  # the callback page's own fetch, then a new connection
            answer = await self.http.post(to.url, headers={"Origin": self.origin})
            location = answer.json()["location"]
            if answer.status_code != 200:
                return await self.open(location)
            tab = await Tab.connect(self.base, self.token, location, self.cookie_header(), user_agent=self.user_agent)
            return await tab.hydrated()
        return await self.open(await self.follow(to.url, credentials=credentials))

    async def sign_in(self, credentials: tuple[str, str], page: str = "/") -> Tab:
        """Sign in as a tab does (Sign in, the provider's form, the callback); the page it comes
        back to, loaded and still open."""
        tab = await self.open(page)
        await tab.send("sign_in")
        tab = await self.go(tab, await tab.navigation(), credentials=credentials)  # the callback
        if tab.path.rstrip("/") == CALLBACK_PATH:  # it didn't go on by itself: its handler sends it on
            tab = await self.go(tab, await tab.navigation())
        if tab.var("signed_in") is not True:
            raise ProtocolError(f"not signed in after the callback: {tab.var('error_code')!r}")
        return tab

    async def follow(self, url: str, *, credentials: tuple[str, str] | None = None) -> str:
        """Follow redirects (and the provider's sign-in or logout form) until a page of the app."""
        response = await self.http.get(url)
        while True:
            if response.is_redirect:
                url = urllib.parse.urljoin(str(response.url), response.headers["location"])
                if url.startswith(self.base) and not urllib.parse.urlsplit(url).path.startswith("/auth/"):
                    return url
                response = await self.http.get(url)
            elif response.status_code == 200 and "<form" in response.text:
                response = await self._submit(response, credentials)
            else:
                raise ProtocolError(f"{response.status_code} from {response.url}: {response.text[:200]}")

    async def _submit(self, page: httpx.Response, credentials: tuple[str, str] | None) -> httpx.Response:
        form = forms(page.text)[0]
        action = urllib.parse.urljoin(str(page.url), form["action"])
        if "xsrf" in form["fields"]:  # the provider's "sign out?" confirmation
            return await self.http.post(action, data={**form["fields"], "logout": "yes"})
        if credentials is None:
            raise ProtocolError("the provider asks for a password nobody gave")
        username, password = credentials
        return await self.http.post(action, data={"username": username, "password": password})

    async def aclose(self) -> None:
        await self.http.aclose()
