"""Pages rendered per request: a page shows who is signed in as its HTML is parsed.

Reflex builds each page once, with its default state, and draws the rest with scripts
after they load: the user's name came only once React had run (`first_state.py` got that
down to the hydrate, no websocket). Here a page that carries a first state is rendered
with it, by React Router's server build that Reflex's production build leaves in
`.web/build/server` (its prerender's), in a Node.js process beside each backend worker
(`renderer.mjs`); the browser then hydrates from the same state, which the page carries
marked `rendered`. Nothing else changes: the same state, the same lookup, the same
`private, no-store` page. Its buttons take no click until React has hydrated it
(`first_state.INERT_STYLE`), as a click before would do nothing.

Whenever the renderer can't answer in time (not started yet, busy, gone, no Node.js, a
build without a server build), the page is the built one, the state applied once React
has hydrated it, as before: rendering makes a page sooner, never different.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import h11

from reflex_logto.reflex.state import EveryMinute

log = logging.getLogger(__name__)
_render_failed = EveryMinute("a page is sent as built: %s (logged once a minute)", log)

RENDER_TIMEOUT_SECONDS = 0.25
"""The longest a page waits for its render before it is sent as built (one takes 10-40 ms here)."""
MAX_WAITING = 8
"""Renders waiting at once, per worker; past that a page is sent as built at once."""
START_TIMEOUT_SECONDS = 30.0
"""How long the renderer may take to load the build before it is given up on."""
RESTART_AFTER_SECONDS = 60.0
"""A renderer that stopped is started again at most this often."""
MAX_FAILURES = 5
"""Renders failed in a row after which the renderer is stopped (to be started again)."""
MAX_KEPT = 256
"""Signed-out renders kept per worker (one per page and query, and per reason shown)."""
MAX_RECENT = 64
"""Signed-in renders kept per worker, the latest: a page reloaded with nothing changed is not
rendered again (a render is the same page for the same state, as with the signed-out ones)."""


class PageRenderer:
    """A Node.js process rendering this build's pages, one at a time, on a private Unix socket."""

    def __init__(self, web_dir: Path, node: str, script: Path | None = None):
        """`script` replaces `renderer.mjs` (a test's renderer that misbehaves)."""
        self.web_dir, self.node, self.script = web_dir.resolve(), node, script
        self._dir = Path(tempfile.mkdtemp(prefix="reflex-logto-render-"))  # 0700: this user's only
        self.socket_path = self._dir / "render.sock"
        self._process: asyncio.subprocess.Process | None = None
        self._listening = False
        self._starting: asyncio.Task[None] | None = None
        self._started_at = float("-inf")
        self._waiting = self._failures = 0
        self._build: tuple[int, int] | None = None
        self._log_task: asyncio.Future[None] | None = None
        self._kept: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._recent: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._under_way: dict[str, asyncio.Future[bytes | None]] = {}
        self._preparing: set[asyncio.Task[bytes | None]] = set()
        self._generation = 0  # one per process: a render begun with another's counts for nothing

    @property
    def ready(self) -> bool:
        return self._listening and self._process is not None and self._process.returncode is None

    async def started(self) -> bool:
        """Wait for the start under way, if any; whether the renderer is ready."""
        if self._starting is not None:
            await asyncio.shield(self._starting)
        return self.ready

    def start(self) -> None:
        """Start the process in the background (pages are sent as built until it is ready)."""
        if self._starting is None or self._starting.done():
            self._started_at = time.monotonic()
            self._build = _build_id(self.web_dir)
            self._starting = asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        script = self.script or resources.files("reflex_logto.reflex").joinpath("renderer.mjs")
        with resources.as_file(script) as script_path:
            try:
                self._process = process = await asyncio.create_subprocess_exec(
                    self.node, str(script_path), str(self.web_dir), str(self.socket_path),
                    # stdin: the process ends with this one; production React, not its checks.
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                    env={**os.environ, "NODE_ENV": "production"},
                )
            except OSError as err:
                log.warning("pages are sent as built: the renderer did not start (%s)", err)
                return
        assert process.stdout is not None and process.stderr is not None
        self._log_task = asyncio.ensure_future(_log_lines(process.stderr))
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            log.warning("pages are sent as built: the renderer did not start (see its lines above)")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            return
        self._listening = True
        log.info("pages are rendered with their first state (renderer pid %s)", process.pid)

    async def render(self, url: str, state: dict[str, dict[str, Any]], *, shared: bool = False) -> bytes | None:
        """The page at `url` rendered with `state`; None to send it as built. A render is the
        same page for the same state: a `shared` state (one that shows no user: signed out),
        the same for everyone, is kept, and a page rendered so once is not rendered again for
        this build; the latest signed-in renders are kept too, for the reload that follows; and
        a request for a render under way waits for that one."""
        if not self.ready:
            if self._process is not None and self._process.returncode is not None:
                self._restart()
            return None
        if _build_id(self.web_dir) != self._build:
            # A new build is served from the same files: the renderer's pages would name scripts
            # that are gone. The page as built until the renderer has loaded the new one.
            log.info("the frontend was built again: restarting the renderer")
            self._replace()
            return None
        request = json.dumps({"url": url, "state": state}, separators=(",", ":"))
        kept, _ = self._kept_for(shared)
        if (seen := kept.get(request)) is not None:
            kept.move_to_end(request)
            return seen
        if (under_way := self._under_way.get(request)) is None:
            if self._waiting >= MAX_WAITING:
                return None
            under_way = self._under_way[request] = asyncio.ensure_future(self._render(request, shared=shared))
            under_way.add_done_callback(lambda _: self._under_way.pop(request, None))
        return await asyncio.shield(under_way)  # a request that goes away leaves it to the others

    def prepare(self, url: str, state: dict[str, dict[str, Any]]) -> None:
        """Start rendering a page the browser is about to ask for (where the callback sends it),
        so that its request finds it rendered, or under way."""
        task = asyncio.ensure_future(self.render(url, state))
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)

    async def _render(self, request: str, *, shared: bool) -> bytes | None:
        generation = self._generation
        self._waiting += 1
        try:
            status, page = await asyncio.wait_for(_post(self.socket_path, request.encode()), RENDER_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, h11.ProtocolError) as err:
            if generation == self._generation:
                self._failed(f"its render did not answer ({type(err).__name__})")
            return None
        except Exception:
            log.exception("a render failed: the page is sent as built")
            return None
        finally:
            self._waiting -= 1
        if generation != self._generation:
            return None  # the renderer of an older build, or one since replaced: neither kept nor counted
        if status != 200:
            self._failed(f"its render answered {status}")
            return None
        self._failures = 0
        kept, most = self._kept_for(shared)
        kept[request] = page
        if len(kept) > most:
            kept.popitem(last=False)
        return page

    def _kept_for(self, shared: bool) -> tuple[collections.OrderedDict[str, bytes], int]:
        """Where renders of a `shared` state (signed out) or a user's are kept, and how many."""
        return (self._kept, MAX_KEPT) if shared else (self._recent, MAX_RECENT)

    def _failed(self, why: str) -> None:
        self._failures += 1
        _render_failed.warn(why)
        if self._failures >= MAX_FAILURES and self._process is not None and self._process.returncode is None:
            log.warning("the renderer failed %d renders in a row: stopping it", self._failures)
            self._process.kill()  # started again by the next page, at most once a minute

    def _restart(self) -> None:
        if time.monotonic() - self._started_at >= RESTART_AFTER_SECONDS:
            log.warning("the renderer stopped (exit %s): starting it again", self._process and self._process.returncode)
            self._replace()

    def _replace(self) -> None:
        """A new process in place of the current one, if any."""
        self._listening = False
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
        self._failures = 0
        self._generation += 1
        self._kept.clear()  # another build's pages
        self._recent.clear()
        self._under_way.clear()  # those still under way end for the requests already waiting
        self.start()

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        for task in self._preparing:
            task.cancel()
        self._listening = False
        process = self._process
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()  # it ends when its stdin does
            try:
                await asyncio.wait_for(process.wait(), 2)
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(OSError):
            self.socket_path.unlink(missing_ok=True)
            self._dir.rmdir()


async def _post(socket_path: Path, body: bytes) -> tuple[int, bytes]:
    """POST `body` to the renderer on a connection of its own: (status, content). Plain HTTP/1.1
    (h11) over the socket rather than a client's pooled exchange, whose machinery took 3-4 ms
    of each render; a Unix socket connects in microseconds."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        connection = h11.Connection(h11.CLIENT)
        headers = [("Host", "renderer"), ("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        writer.write(
            connection.send(h11.Request(method="POST", target="/", headers=[*headers, ("Connection", "close")]))
            + connection.send(h11.Data(data=body))
            + connection.send(h11.EndOfMessage())
        )
        status, content = 0, bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(1 << 16))  # b"" at its end: h11 says if early
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, bytes(content)
            elif not isinstance(event, h11.InformationalResponse):  # closed early, or paused: no answer
                raise h11.RemoteProtocolError(f"no answer ({type(event).__name__})")
    finally:
        writer.close()


async def _log_lines(stream: asyncio.StreamReader) -> None:
    async for line in stream:
        log.warning("renderer: %s", line.decode(errors="replace").rstrip())


_renderer: tuple[int, PageRenderer] | None = None


def get_renderer() -> PageRenderer | None:
    """This worker process's renderer, or None where pages are sent as built."""
    if _renderer is None or _renderer[0] != os.getpid():
        return None
    return _renderer[1]


def page_url(path: str, query: str = "") -> str:
    """The URL a page is rendered at: its path and query, on a host of no account."""
    return f"http://localhost{path}{'?' + query if query else ''}"


def server_build(web_dir: Path) -> Path:
    return web_dir / "build" / "server" / "index.js"


def _build_id(web_dir: Path) -> tuple[int, int] | None:
    """The server build's file as of now (each build writes it anew)."""
    try:
        found = server_build(web_dir).stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


@contextlib.asynccontextmanager
async def rendering(web_dir: Path, node: str | None, script: Path | None = None) -> AsyncIterator[None]:
    """A lifespan: this worker's renderer runs with it, where there is a build to render."""
    global _renderer
    if node is None or not server_build(web_dir).is_file():
        log.info("pages are sent as built: %s", "no Node.js found" if node is None else "no server build")
        yield
        return
    renderer = PageRenderer(web_dir, node, script)
    _renderer = (os.getpid(), renderer)
    renderer.start()
    try:
        yield
    finally:
        _renderer = None
        await renderer.stop()
