"""Claims as a page shows them: every key and value, and times also as readable dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

# Claims whose value is a time (seconds since the epoch), shown also as a date.
TIME_CLAIMS = frozenset({"exp", "iat", "auth_time", "updated_at", "created_at", "nbf"})


def readable_time(value: Any) -> str:
    """A claim's time as a UTC date; "" if it isn't one. Logto's created_at/updated_at are milliseconds."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    seconds = value / 1000 if value > 100_000_000_000 else value  # past year 5138 in seconds: milliseconds
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):
        return ""


def claim_rows(claims: dict[str, Any]) -> list[dict[str, str]]:
    """Every claim as key, value and (for times) a readable UTC date, sorted by key."""
    rows = []
    for key in sorted(claims):
        value = claims[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        readable = readable_time(value) if key in TIME_CLAIMS else ""
        rows.append({"key": key, "value": text, "readable": readable})
    return rows
