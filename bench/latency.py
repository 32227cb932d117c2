"""A network with a round-trip time, for the browser benchmarks: a SOCKS5 relay that holds
every byte for half the RTT in each direction, and each new connection for one RTT (its TCP
handshake).

Loopback has no round trips worth the name, so it hides what a design costs in them: a page
that needs its websocket before it can show anything pays the socket's handshake and the
hydrate's round trip on every load, a server-rendered one none. The benchmarks launch
chromium through this relay (`--rtt MS`), loopback included, so the apps, the anchor and the
provider are all as far from the browser; what the servers say to each other stays local, as
in one data centre.

    .venv/bin/python bench/latency.py --port PORT --rtt 40      (runs until stopped)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

CHUNK = 64 * 1024


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy `reader` to `writer`, each chunk `delay` seconds after it arrived, in order."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    delivering = asyncio.ensure_future(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((time.monotonic() + delay, data))
    except OSError:
        pass
    queue.put_nowait((time.monotonic() + delay, b""))
    with contextlib.suppress(OSError):
        await delivering


async def _serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, delay: float) -> None:
    """One SOCKS5 CONNECT (RFC 1928, no authentication), then the bytes both ways, delayed."""
    try:
        version, count = await client_reader.readexactly(2)
        if 0 not in await client_reader.readexactly(count):
            raise ValueError("the client offers no way in without authentication")
        client_writer.write(b"\x05\x00")
        _, command, _, kind = await client_reader.readexactly(4)
        if kind == 1:
            host = str(ipaddress.IPv4Address(await client_reader.readexactly(4)))
        elif kind == 4:
            host = str(ipaddress.IPv6Address(await client_reader.readexactly(16)))
        else:
            host = (await client_reader.readexactly((await client_reader.readexactly(1))[0])).decode()
        (port,) = struct.unpack("!H", await client_reader.readexactly(2))
        if version != 5 or command != 1:
            raise ValueError("not a SOCKS5 CONNECT")
        server_reader, server_writer = await asyncio.open_connection(host, port)
        await asyncio.sleep(2 * delay)  # the connection's own handshake: one round trip
        client_writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("0.0.0.0") + b"\x00\x00")
        await client_writer.drain()
    except (OSError, ValueError, asyncio.IncompleteReadError):
        client_writer.close()
        return
    await asyncio.gather(
        _relay(client_reader, server_writer, delay), _relay(server_reader, client_writer, delay)
    )
    for writer in (client_writer, server_writer):
        writer.close()


async def main(port: int, rtt_ms: float) -> None:
    delay = rtt_ms / 2000
    server = await asyncio.start_server(lambda r, w: _serve(r, w, delay), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def relay(rtt_ms: float) -> Iterator[list[str]]:
    """This relay running in a process of its own: the chromium flags that send everything through it."""
    from harness import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__)), "--port", str(port), "--rtt", str(rtt_ms)])
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the latency relay did not start")
            time.sleep(0.05)
        # Loopback too (chromium sends it around any proxy by default).
        yield [f"--proxy-server=socks5://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>"]
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rtt", type=float, required=True, help="round-trip time, milliseconds")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.port, arguments.rtt))
