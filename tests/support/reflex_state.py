"""Running AuthState's handlers under pytest, the way Reflex would call them."""

from __future__ import annotations

import json
import re
from typing import Any

from reflex.istate.data import RouterData
from reflex_base import constants
from reflex_base.event import EventSpec

from reflex_logto.reflex.state import AuthState


def default_origin() -> str:
    """The configured app's own origin: what a page of the app sends."""
    from reflex_logto.reflex import runtime

    return runtime._config.origin if runtime._config else "https://app.example"


def auth_state(path: str = "/", *, cookie: str = "", origin: str | None = None, state_class=AuthState) -> AuthState:
    """A state for a tab on `path` (with query) whose websocket sent `cookie` from `origin`."""
    state = state_class()
    state.router = RouterData.from_router_data(
        {
            constants.RouteVar.HEADERS: {"origin": origin or default_origin(), "cookie": cookie},
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.PATH: path.split("?")[0],
        }
    )
    return state


async def run(handler) -> list[Any]:
    """Everything a handler yields or returns, in order."""
    result = handler()
    events: list[Any] = []
    if hasattr(result, "__aiter__"):
        async for event in result:
            if event is not None:
                events.append(event)
    else:
        value = await result
        if value is not None:
            events.append(value)
    return events


def navigation(events: list[Any]) -> str | None:
    """The URL the handler sent the tab to, if any: a full page load's, or the session route
    the callback page's in-page handoff fetches (`navigation.take_session`)."""
    for event in events:
        if isinstance(event, EventSpec):
            for _, value in event.args:
                script = str(getattr(value, "_var_value", ""))
                match = re.search(r'window\.location\.(?:assign|replace)\(("[^"]+")\)', script) or re.search(
                    r"^  const handoff = (.*);$", script, re.MULTILINE
                )
                if match:
                    return json.loads(match.group(1))
    return None


def client_redirect(events: list[Any]) -> str | None:
    """The path of the client-side route change (`rx.redirect`) the handler asked for, if any."""
    for event in events:
        if isinstance(event, EventSpec) and event.handler.fn.__qualname__.endswith("redirect"):
            return str(dict(event.args)[next(k for k, _ in event.args if str(k) == "path")]._var_value)
    return None


def auth_route_paths(app) -> list[str]:
    """The paths of the package's routes: the Starlette app among the app's transformers."""
    from starlette.applications import Starlette

    starlette = next(t for t in app.api_transformer if isinstance(t, Starlette))
    return [route.path for route in starlette.routes]
