"""No log record carries a cookie value: every record, of any logger, is scrubbed as it is made.

Reflex logs a whole event, its request headers included, when it can't process it;
its console handler formats records (and tracebacks) itself, and its logger doesn't
propagate, so a logging.Filter on one logger or handler would miss them. The record
factory sees them all.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable

REDACTED = "<redacted>"
_COOKIE_PREFIXES = ("__Host-", "__Secure-")

_redacted_names: set[str] = set()
_patterns: list[re.Pattern[str]] = []


def install_log_redaction(cookie_names: Iterable[str]) -> None:
    """From now on, every log record (any logger, any handler) is scrubbed as it is made:
    Cookie and Set-Cookie headers in any form (Reflex logs an event's headers when it can't
    process it) and the named cookies wherever they appear. Calling again adds names."""
    _redacted_names.update(_bare_name(name) for name in cookie_names if name)
    _patterns[:] = redaction_patterns(_redacted_names)
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "_redacts_cookies", False):
        logging.setLogRecordFactory(_redacting(factory))


def _bare_name(name: str) -> str:
    for prefix in _COOKIE_PREFIXES:
        name = name.removeprefix(prefix)
    return name


def redaction_patterns(cookie_names: Iterable[str]) -> list[re.Pattern[str]]:
    """Regular expressions whose `value` group is a cookie value."""
    quoted = r"(?P<q>['\"])(?P<value>(?:\\.|(?!(?P=q)).)*)(?P=q)"
    patterns = [
        # 'cookie': '...'  "Set-Cookie": "..."  (b'cookie', b'...')  in reprs and JSON
        rf"b?(?P<k>['\"])(?:set-)?cookie(?P=k)\s*[:,]\s*b?{quoted}",
        # cookie='...'  in dataclass reprs (Reflex's HeaderData)
        rf"(?<![\w-])(?:set_)?cookie\s*=\s*b?{quoted}",
        # Cookie: a=b; c=d   as an HTTP header line
        r"(?<![\w'\"-])(?:set-)?cookie:[ \t]*(?P<value>[^\r\n]+)",
    ]
    names = sorted(set(cookie_names), key=len, reverse=True)
    if names:
        prefixed = r"(?:__Host-|__Secure-)?(?:" + "|".join(map(re.escape, names)) + ")"
        patterns += [
            rf"(?<![\w-]){prefixed}=(?P<value>[^;,\s'\"\\&]+)",  # name=value
            rf"(?P<k>['\"]){prefixed}(?P=k)\s*:\s*{quoted}",  # {'name': 'value'}
        ]
    return [re.compile(pattern, re.IGNORECASE) for pattern in patterns]


def redact(text: str) -> str:
    """`text` with every cookie value the patterns find replaced by <redacted>."""
    for pattern in _patterns:
        text = pattern.sub(_blank_value, text)
    return text


def _blank_value(match: re.Match[str]) -> str:
    whole, start, end = match.group(0), *match.span("value")
    offset = match.start()
    return whole[: start - offset] + REDACTED + whole[end - offset :]


def _redacting(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _scrub(record)
        return record

    make_record._redacts_cookies = True
    return make_record


def _scrub(record: logging.LogRecord) -> None:
    """Redact the record's message, traceback and stack in place. A traceback that needed it
    moves into the message: Reflex's console handler formats `exc_info` itself."""
    try:
        message = record.getMessage()
    except Exception:
        return  # a broken format string: logging reports it as it would have
    clean = redact(message)
    if record.exc_info and record.exc_info[0] is not None:
        trace = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if (clean_trace := redact(trace)) != trace:
            clean, record.exc_info, record.exc_text = f"{clean}\n{clean_trace}", None, None
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
