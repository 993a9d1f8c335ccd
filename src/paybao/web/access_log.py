"""The server's access log without credentials: query values that grant something are masked.

uvicorn logs every request line with its query string. Some clients put credentials there:
the official Alipay SDK sends the common parameters in the query, `auth_token` (a user's OAuth
access token) and `app_auth_token` among them; a bill download link carries its token. A log
line must not be a way in, so those values become `***` before the line is written (the
parameter names stay, so the line still says what was asked)."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Final

ACCESS_LOGGER: Final = "uvicorn.access"
MASK: Final = "***"
SENSITIVE_KEYS: Final = frozenset(
    {
        "access_token",
        "app_auth_token",
        "auth_code",
        "auth_token",
        "code",
        "password",
        "refresh_token",
        "token",
    }
)
# uvicorn's access record: (client address, method, path with query, HTTP version, status).
_PATH_ARG: Final = 2
_ARGS_COUNT: Final = 5


def redact_path(path_with_query: str) -> str:
    """The path with every sensitive query value masked (the rest byte for byte)."""
    path, mark, query = path_with_query.partition("?")
    if not mark:
        return path_with_query
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        key = urllib.parse.unquote_plus(name).lower()
        parts.append(f"{name}={MASK}" if equals and key in SENSITIVE_KEYS else part)
    return f"{path}?{'&'.join(parts)}"


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == _ARGS_COUNT:
            path = args[_PATH_ARG]
            if isinstance(path, str) and "?" in path:
                record.args = (*args[:_PATH_ARG], redact_path(path), *args[_PATH_ARG + 1 :])
        return True


def install() -> None:
    """Once per process (each server worker builds its app): idempotent."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
