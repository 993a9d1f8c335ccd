"""Buyers' logon ids (`buyer_logon_id`: the masked phone) through a short per-process cache.

Every answer about a paid trade and every trade notification names the buyer's logon id, and
reading the user row for each cost a transaction per answer and per delivery. A phone number
changes rarely; an answer naming the previous masked number for up to `ttl_s` after a change
is the price. One instance serves the gateway's answers and the notification forms.
"""

from __future__ import annotations

import time
from typing import Any, Final

from paybao.domain.errors import NotFound

TTL_S_DEFAULT: Final = 30.0
SIZE_MAX_DEFAULT: Final = 100_000


class LogonIds:
    def __init__(
        self, users: Any, *, ttl_s: float = TTL_S_DEFAULT, size_max: int = SIZE_MAX_DEFAULT
    ) -> None:
        assert ttl_s >= 0 and size_max > 0
        self.users = users
        self.ttl_s = ttl_s
        self.size_max = size_max
        # user id -> (monotonic time read, masked phone); cleared whole when full (bounded).
        self._cached: dict[int, tuple[float, str]] = {}

    def of(self, user_id: int) -> str:
        """The masked phone, or "" for a user that does not exist."""
        now_s = time.monotonic()
        cached = self._cached.get(user_id)
        if cached is not None and now_s - cached[0] < self.ttl_s:
            return cached[1]
        try:
            logon_id = str(self.users.get(user_id).phone_masked)
        except NotFound:
            return ""
        if len(self._cached) >= self.size_max:
            self._cached.clear()
        self._cached[user_id] = (now_s, logon_id)
        return logon_id
