"""A user agent without a browser: plain HTTP for pages and redirects, and
Reflex's event protocol (Socket.IO over a websocket) for what a page does.

It speaks to the app exactly as a tab does: each page load opens a websocket
whose connect packet carries the page's hydrate event, handlers are events
sent on it, and the app's answers are state deltas and, for navigation, a
`_call_script` that sets `window.location`. Static assets are not fetched
(a browser has them cached after the first page). Used by bench/socket_load.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
import uuid
from typing import Any

import httpx
import websockets

STATE = "reflex___state____state"
AUTH = f"{STATE}.app___auth___state____auth_state"
NAMESPACE = "/_event"
NAVIGATION = re.compile(r'window\.location\.(?:assign|replace)\("([^"]+)"\)')
ANSWER_TIMEOUT = 60  # seconds: under load the app may queue events


class ProtocolError(Exception):
    """The app answered something a browser would not have been able to use."""


class Tab:
    """One open page: its websocket, and the state it has been sent so far."""

    def __init__(self, socket, path: str):
        self.socket = socket
        self.path = path
        self.state: dict[str, dict[str, Any]] = {}
        self.navigations: list[str] = []
        self.frames: list[str] = []  # everything received, for the load test's leak check

    @classmethod
    async def open(cls, agent: UserAgent, url: str) -> Tab:
        """Load the page's HTML, connect, hydrate, and run its on_load handlers."""
        page = await agent.http.get(url, follow_redirects=True)
        page.raise_for_status()
        parts = urllib.parse.urlsplit(str(page.url))
        endpoint = f"{agent.base.replace('http', 'ws', 1)}/_event/?token={agent.token}&EIO=4&transport=websocket"
        socket = await websockets.connect(
            endpoint, origin=agent.origin, additional_headers={"Cookie": agent.cookie_header()},
            user_agent_header=agent.user_agent, open_timeout=ANSWER_TIMEOUT,
        )
        tab = cls(socket, parts.path)
        opening = await tab._receive_frame()
        if not opening.startswith("0"):
            raise ProtocolError(f"no Engine.IO open packet: {opening[:80]}")
        router_data = {"pathname": parts.path, "asPath": parts.path + (f"?{parts.query}" if parts.query else "")}
        if parts.query:
            router_data["query"] = dict(urllib.parse.parse_qsl(parts.query))
        hydrate = {"name": f"{STATE}.hydrate_and_load", "payload": {}, "router_data": router_data}
        await socket.send(f"40{NAMESPACE},{json.dumps({'event': hydrate})}")
        await tab.wait(lambda: tab.state.get(STATE, {}).get("is_hydrated_rx_state_") is True or tab.navigations)
        return tab

    async def send(self, handler: str, payload: dict | None = None) -> None:
        event = {"name": f"{AUTH}.{handler}", "payload": payload or {},
                 "router_data": {"pathname": self.path, "asPath": self.path}}
        await self.socket.send(f"42{NAMESPACE},{json.dumps(['event', event])}")

    async def wait(self, condition) -> None:
        """Apply what arrives until `condition()` holds."""
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while not condition():
                frame = await self._receive_frame()
                if frame == "2":  # Engine.IO ping
                    await self.socket.send("3")
                elif frame.startswith(f"42{NAMESPACE},"):
                    name, update = json.loads(frame[len(f"42{NAMESPACE},"):])[:2]
                    if name == "event":
                        self._apply(update)

    async def navigation(self) -> str:
        """The URL the app sends the tab to next."""
        await self.wait(lambda: self.navigations)
        return self.navigations.pop(0)

    def _apply(self, update: dict[str, Any]) -> None:
        for substate, values in (update.get("delta") or {}).items():
            self.state.setdefault(substate, {}).update(values)
        for event in update.get("events") or []:
            if event.get("name") == "_call_script":
                if match := NAVIGATION.search(event["payload"].get("javascript_code", "")):
                    self.navigations.append(json.loads(f'"{match.group(1)}"'))

    async def _receive_frame(self) -> str:
        frame = await self.socket.recv()
        frame = frame if isinstance(frame, str) else frame.decode()
        self.frames.append(frame)
        return frame

    def auth(self, name: str) -> Any:
        return self.state.get(AUTH, {}).get(f"{name}_rx_state_")

    async def close(self) -> None:
        await self.socket.close()


class UserAgent:
    """One user's browser: cookies for the app and the provider, one tab at a time."""

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
        from tests.support.provider_browser import forms

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
