"""Debian's PostgreSQL on a free loopback port, for the tests that keep sessions in it.

A cluster of its own in a temporary folder: `initdb`, then `pg_ctl` to start,
stop and restart it. PostgreSQL refuses to run as root, so as root (CI, the
test machines) both run as the `postgres` user, who owns the folder. It
listens on 127.0.0.1 only, with its unix socket in the folder, and the
superuser has a random password, so the URL carries one as a real deployment's
does.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from reflex_logto.sessions.stores.postgres_schema import TABLE_NAMES, create_schema
from tests.support.app_server import free_port

START_TIMEOUT = 30  # seconds
PG_BIN = Path("/usr/lib/postgresql")  # Debian keeps each major version's programs under it


def _bin_dir() -> Path:
    versions = sorted((p for p in PG_BIN.glob("*/bin") if (p / "pg_ctl").exists()), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup --test")
    return versions[-1]


class PostgresServer:
    def __init__(self):
        self.bin = _bin_dir()
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="reflex-logto-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.url = f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"
        (self.folder / "password").write_text(self.password)
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(self.folder / "password", "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                  f"--pwfile={self.folder / 'password'}", "--encoding=UTF8", "--locale=C.UTF-8")
        (self.folder / "password").unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\n"
                "max_connections = 200\n"  # several app instances, each worker with its pool
            )
        self.start()

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stderr.strip()[-2000:]}\n{self._log_tail()}")
        return result

    def _log_tail(self) -> str:
        try:
            return self.log.read_text()[-2000:]
        except OSError:
            return ""

    def start(self) -> None:
        # -w: pg_ctl waits until the server accepts connections.
        self._run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT), "-D", str(self.data), "-l", str(self.log))

    def stop(self) -> None:
        """A fast shutdown: open connections are closed, committed data is kept."""
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data), check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def execute(self, sql: str) -> str:
        """Run SQL with psql, through the unix socket; what it printed (rows unaligned, `|` between values)."""
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.folder),
             "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", sql],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, env={**os.environ, "PGPASSWORD": self.password},
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def empty(self) -> None:
        """Drop everything the stores made: the next store opened starts afresh, schema and all."""
        self.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def close(self) -> None:
        if self.is_running():
            self.stop()
        deadline = time.monotonic() + START_TIMEOUT
        while self.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.folder, ignore_errors=True)


async def emptied(url: str, prefix: str) -> None:
    """The store's tables under `prefix` made if need be, and emptied: a fresh store, without
    the cost of making its tables again for every test."""
    connection = await asyncpg.connect(url)
    try:
        await create_schema(connection, prefix)
        await connection.execute(f"TRUNCATE {', '.join(prefix + name for name in TABLE_NAMES)}")
    finally:
        await connection.close()
