"""bench/socket_load.py's 200 users at once over the wire, with several workers and
the sessions in PostgreSQL or in Redis, from a copy of the project.

    .venv/bin/python bench/socket_load_stores.py --store postgres|redis [--users 200] [--concurrency 200] [--workers 2]

The same journeys and checks as socket_load.py (each user sees only their own
claims). Reflex's state is in Redis either way; the sessions in a PostgreSQL
started here, or in that Redis. The app runs from a copy of the project, so a
frontend build elsewhere in the checkout can't pull its files from under it.
"""

from __future__ import annotations

import argparse
import asyncio

from harness import app_with_users
from socket_load import run


def main(store: str, users: int, concurrency: int, workers: int) -> None:
    with app_with_users(f"socket-load-{store}", users, workers, postgres=store == "postgres", isolated=True) as (
        base, accounts,
    ):
        asyncio.run(run(base, accounts, concurrency))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["postgres", "redis"], default="postgres")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    main(arguments.store, arguments.users, arguments.concurrency, arguments.workers)
