"""asyncpg against SQLAlchemy's async engine, on the statements a session store runs most.

Each driver runs the same three statements on a table shaped like the store's
sessions table, on a PostgreSQL started for the run (tests/support/postgres_server.py):
a lookup by primary key (resolving a session), an update of one row (recording a
use), and an insert. SQLAlchemy runs them as Core `text()` statements on its
`postgresql+asyncpg` dialect, the cheapest way it offers, and, where installed,
on `postgresql+psycopg` too. Medians of wall time per statement, one connection,
no concurrency; and the client process's own CPU per statement (what the driver
costs the app's worker, whatever else the machine is doing). Writes wait for
the WAL to reach the disk, so their wall time is mostly the server's.

The store uses asyncpg; SQLAlchemy is not among the project's dependencies,
so for this comparison install it beside asyncpg (pip install sqlalchemy).

    .venv/bin/python bench/pg_drivers.py [--rounds 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from tests.support.postgres_server import PostgresServer  # noqa: E402

TABLE = """
CREATE TABLE bench_sessions (
    id TEXT PRIMARY KEY, sub TEXT NOT NULL, claims TEXT NOT NULL, tokens BYTEA NOT NULL,
    last_used_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL
)"""
ROWS = 10_000
CLAIMS = '{"sub": "user", "name": "Ada Lovelace", "email": "ada@example.com"}'


async def fill(url: str) -> None:
    connection = await asyncpg.connect(url)
    await connection.execute("DROP TABLE IF EXISTS bench_sessions")
    await connection.execute(TABLE)
    now = time.time()
    await connection.copy_records_to_table(
        "bench_sessions",
        records=[(f"key-{n}", f"user-{n}", CLAIMS, os.urandom(1200), now, now + 3600) for n in range(ROWS)],
    )
    await connection.execute("ANALYZE bench_sessions")
    await connection.close()


async def timed(step, rounds: int) -> tuple[float, float]:
    """(median wall ms, mean client CPU ms) of `step(n)` over `rounds` calls, after a warm-up."""
    for n in range(rounds, rounds + 200):
        await step(n)
    times = []
    cpu = time.process_time()
    for n in range(rounds):
        start = time.perf_counter()
        await step(n)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, (time.process_time() - cpu) / rounds * 1000


async def with_asyncpg(url: str, rounds: int) -> dict[str, tuple[float, float]]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    now = time.time()
    results = {
        "lookup": await timed(lambda n: pool.fetchrow(
            "SELECT id, sub, claims, substr(tokens, 1, 5), last_used_at, expires_at FROM bench_sessions WHERE id = $1",
            f"key-{n % ROWS}"), rounds),
        "update": await timed(lambda n: pool.execute(
            "UPDATE bench_sessions SET last_used_at = $1 WHERE id = $2", now + n, f"key-{n % ROWS}"), rounds),
        "insert": await timed(lambda n: pool.execute(
            "INSERT INTO bench_sessions VALUES ($1, $2, $3, $4, $5, $6)",
            f"apg-{n}", "user", CLAIMS, b"x" * 1200, now, now + 3600), rounds),
    }
    await pool.close()
    return results


async def with_sqlalchemy(url: str, driver: str, rounds: int) -> dict[str, tuple[float, float]]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    # Autocommit, as asyncpg runs here: no BEGIN and COMMIT around each statement.
    engine = create_async_engine(
        url.replace("postgresql://", f"postgresql+{driver}://"), pool_size=1, isolation_level="AUTOCOMMIT"
    )
    lookup = text(
        "SELECT id, sub, claims, substr(tokens, 1, 5), last_used_at, expires_at FROM bench_sessions WHERE id = :id"
    )
    update = text("UPDATE bench_sessions SET last_used_at = :now WHERE id = :id")
    insert = text("INSERT INTO bench_sessions VALUES (:id, :sub, :claims, :tokens, :now, :expires_at)")
    now = time.time()

    async def run(statement, params, *, rows: bool = False):
        async with engine.connect() as connection:
            result = await connection.execute(statement, params)
            return result.first() if rows else None

    results = {
        "lookup": await timed(lambda n: run(lookup, {"id": f"key-{n % ROWS}"}, rows=True), rounds),
        "update": await timed(lambda n: run(update, {"now": now + n, "id": f"key-{n % ROWS}"}), rounds),
        "insert": await timed(lambda n: run(insert, {
            "id": f"sa-{driver}-{n}", "sub": "user", "claims": CLAIMS, "tokens": b"x" * 1200,
            "now": now, "expires_at": now + 3600}), rounds),
    }
    await engine.dispose()
    return results


async def main(rounds: int) -> None:
    server = PostgresServer()
    try:
        await fill(server.url)
        rows = {"asyncpg": await with_asyncpg(server.url, rounds)}
        try:
            rows["SQLAlchemy + asyncpg"] = await with_sqlalchemy(server.url, "asyncpg", rounds)
        except ImportError:
            print("SQLAlchemy is not installed: pip install sqlalchemy, to compare")
        try:
            import psycopg  # noqa: F401

            rows["SQLAlchemy + psycopg"] = await with_sqlalchemy(server.url, "psycopg", rounds)
        except ImportError:
            pass
    finally:
        server.close()
    print(f"per statement, {rounds} rounds, one connection, PostgreSQL on loopback: median wall ms / client CPU ms\n")
    print("| driver | lookup | update | insert |")
    print("|---|---:|---:|---:|")
    for name, result in rows.items():
        cells = " | ".join(f"{result[step][0]:.3f} / {result[step][1]:.3f}" for step in ("lookup", "update", "insert"))
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    asyncio.run(main(parser.parse_args().rounds))
