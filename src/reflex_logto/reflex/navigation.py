"""How a tab moves on after a handler: a full page load, or the callback's in-page handoff."""

from __future__ import annotations

import json

import reflex as rx
from reflex_base.event import EventSpec


def page_load(url: str, *, replace: bool = False, after_next_update: bool = False) -> EventSpec:
    """A full page load of `url` (rx.redirect would route a same-origin path client-side).

    `after_next_update`: the page starts leaving once the handler's next update (the button's
    spinner) has been applied; Reflex drops the tab's websocket as a page starts to leave, so
    an update sent after would be lost, and one sent before would hold the page up while React
    renders it. Leaving is also when the asset cache registers, if it hasn't yet (`asset_cache.py`).
    """
    method = "replace" if replace else "assign"
    leave = f"window.location.{method}({json.dumps(url)})"
    if not after_next_update:
        return rx.call_script(f"window.__reflexLogtoCacheAssets?.(); {leave}")
    return rx.call_script(_AFTER_NEXT_UPDATE.replace("__LEAVE__", leave))


# `socket` is the tab's connection (in scope where Reflex evaluates the script, as below); its
# "event" messages carry Reflex's updates, and a listener added here runs after Reflex's own
# has applied one. Without a socket, or without an update within 100 ms, the page leaves anyway.
_AFTER_NEXT_UPDATE = """(() => {
  window.__reflexLogtoCacheAssets?.();
  let left = false;
  const leave = () => { if (!left) { left = true; __LEAVE__; } };
  if (typeof socket !== "object" || socket === null || typeof socket.once !== "function") return leave();
  const fallback = setTimeout(leave, 100);
  socket.once("event", () => { clearTimeout(fallback); leave(); });
})()"""


# Run by Reflex's event loop (reflex 0.10: state.js `applyEvent` evaluates it), where `socket`
# (the tab's connection) and `navigate` (React Router's) are in scope. The websocket was
# opened before the session cookie existed, and Reflex reads a connection's cookies once, as
# it opens: so the tab drops it and routes client-side, and Reflex's route change opens a new
# one (with the cookie) whose hydrate loads the next page's state. Anything unexpected falls
# back to a page load, which never loses the sign-in.
_TAKE_SESSION = """(async () => {
  const handoff = __URL__;
  let response, next;
  try {
    response = await fetch(handoff, { method: "POST", credentials: "include", cache: "no-store" });
    next = new URL((await response.json()).location, window.location.href);
  } catch (error) {
    window.location.replace(handoff);  // the same handoff by GET, as a page load
    return;
  }
  const inPage = response.ok && next.origin === window.location.origin
    && typeof socket === "object" && socket !== null && typeof socket.disconnect === "function"
    && typeof navigate === "function";
  if (!inPage) {
    window.location.replace(next.href);
    return;
  }
  socket.disconnect();
  navigate(next.pathname + next.search + next.hash, { replace: true });
})()"""


def take_session(handoff_url: str) -> EventSpec:
    """Finish a sign-in from the callback page: its own `fetch` to the session route sets the
    HttpOnly cookie, and the tab goes to the return page without another page load."""
    return rx.call_script(_TAKE_SESSION.replace("__URL__", json.dumps(handoff_url)))
