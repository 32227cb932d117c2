"""A TCP load balancer in front of several app instances, steered by the test.

Each new connection goes to the backend chosen when its first request arrives; `route_to(...,
drop_open=True)` also closes every open connection, as a balancer does when a
backend is taken out, so the browser's next request (and its websocket, which
Reflex reconnects) lands on the new one. It logs the request line of every
request with the backend that served it, so a test can see which backend served
what: a kept-alive connection carries requests made after a switch to the
backend it was opened to, and those count too. A request to a backend that is
down is not logged: the log says what each backend got.
"""

from __future__ import annotations

import asyncio
import threading
from email.parser import BytesHeaderParser

from tests.support.app_server import free_port

CHUNK = 64 * 1024
HEAD_LIMIT = 1024 * 1024  # a request's line and headers, cookies included


class Balancer:
    def __init__(self, backends: dict[str, int]):
        self.backends = backends
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.target = next(iter(backends))
        self.log: list[tuple[str, str]] = []  # (backend, request line), in order
        self._open: set[asyncio.StreamWriter] = set()
        self._drops = 0  # how many times `route_to` closed the open connections
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        serving = asyncio.start_server(self._serve, "127.0.0.1", self.port, limit=HEAD_LIMIT)
        self._server = self._loop.run_until_complete(serving)
        started.set()
        self._loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            head = await _request_head(client_reader)
            if not head:
                client_writer.close()
                return
            while True:
                # Chosen at the first request, not at accept: the browser opens spare connections
                # ahead of need, and one opened before a switch must not carry a request made after.
                name, drops = self.target, self._drops
                backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", self.backends[name])
                if self._drops == drops:
                    break
                backend_writer.close()  # switched while connecting (not open yet, so not dropped): again
        except OSError:
            client_writer.close()  # the backend is down: the browser sees a dropped connection
            return
        self._open.update((client_writer, backend_writer))
        try:
            await asyncio.gather(
                self._forward_requests(name, head, client_reader, backend_writer),
                _pipe(backend_reader, client_writer),
            )
        finally:
            for writer in (client_writer, backend_writer):
                self._open.discard(writer)
                writer.close()

    async def _forward_requests(
        self, name: str, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Pass the connection's requests to backend `name` one by one, logging each; from an
        upgrade (a websocket) or a body of unknown length on, pass the bytes as they come."""
        try:
            while head:
                self.log.append((name, head.split(b"\r\n", 1)[0].decode("latin-1")))
                writer.write(head)
                headers = BytesHeaderParser().parsebytes(head.split(b"\r\n", 1)[1])
                if "upgrade" in headers.get("Connection", "").lower() or "Transfer-Encoding" in headers:
                    await _pipe(reader, writer)
                    return
                if length := int(headers.get("Content-Length", 0)):
                    writer.write(await reader.readexactly(length))
                await writer.drain()
                head = await _request_head(reader)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def route_to(self, name: str, *, drop_open: bool = False) -> None:
        """Send new connections to `name`; with `drop_open`, close the ones open now."""
        assert name in self.backends

        async def switch():
            self.target = name
            if drop_open:
                self._drops += 1
                for writer in list(self._open):
                    writer.close()

        asyncio.run_coroutine_threadsafe(switch(), self._loop).result(10)

    def requests_to(self, name: str, since: int = 0) -> list[str]:
        """Request lines of the requests `name` got, from log entry `since` on."""
        return [line for backend, line in self.log[since:] if backend == name]

    def close(self) -> None:
        def stop():
            self._server.close()
            for writer in list(self._open):
                writer.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _request_head(reader: asyncio.StreamReader) -> bytes:
    """A request's line and headers, up to the blank line; empty when the connection ends first."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return b""
