"""Call limits at the gateway: Alipay's `40005 Call Limited` (alipay-protocol.md §2.3).

Two token buckets per app: one for all its calls (`isv.app-call-limited`) and, for methods
with a limit of their own, one per (app, method) (`isv.method-call-limited`). The score query
has one: a merchant must not walk the population's credit scores at the gateway's full speed.

Buckets live in the server process (a lock, no I/O): a call costs a dictionary lookup, and the
gateway benchmark's hot path stays free of SQL. With W server processes an app's ceiling is W
times the configured rate; the limit exists to stop a runaway or scraping client, not to meter
calls exactly. Time is the monotonic wall clock, not platform time: the sandbox clock jumps.

Limits are checked after the signature (a forger cannot spend a merchant's allowance) and
before the method runs. A refused call writes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from paybao.adapters.alipay.errors import WireError

# Apps are authenticated before they reach the limiter, so the number of buckets is bounded by
# registered apps x limited methods; this cap only guards against a pathological registry.
BUCKETS_MAX: Final = 100_000


# Tokens are counted in millitokens and time in nanoseconds: integers only, no rounding drift.
MILLI: Final = 1000
NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_s` tokens a second (a fraction is fine: 0.5 is one every 2 s), holding at most
    `burst` (a client may spend a burst at once)."""

    per_s: float
    burst: int

    def __post_init__(self) -> None:
        assert self.per_s > 0 and self.burst >= 1, self

    @property
    def milli_per_s(self) -> int:
        return max(1, round(self.per_s * MILLI))


@dataclass(slots=True)
class _Bucket:
    millitokens: int
    at_ns: int


class CallLimits:
    def __init__(
        self,
        app_rate: Rate,
        method_rates: Mapping[str, Rate],
        *,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.app_rate = app_rate
        self.method_rates = dict(method_rates)
        self._now_ns = monotonic_ns
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, app_id: str, method: str) -> None:
        """Spend one call of `app_id` on `method`, or raise the Alipay 40005 error. A call the
        method's bucket refuses does not spend the app's token (and vice versa)."""
        method_rate = self.method_rates.get(method)
        with self._lock:
            now_ns = self._now_ns()
            app_bucket = self._bucket((app_id, ""), self.app_rate, now_ns)
            method_bucket = (
                None if method_rate is None else self._bucket((app_id, method), method_rate, now_ns)
            )
            if app_bucket.millitokens < MILLI:
                raise WireError("isv.app-call-limited", "应用调用次数超限，请降低调用频率")
            if method_bucket is not None and method_bucket.millitokens < MILLI:
                raise WireError("isv.method-call-limited", "接口调用次数超限，请降低调用频率")
            app_bucket.millitokens -= MILLI
            if method_bucket is not None:
                method_bucket.millitokens -= MILLI

    def _bucket(self, key: tuple[str, str], rate: Rate, now_ns: int) -> _Bucket:
        full = rate.burst * MILLI
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= BUCKETS_MAX:
                self._buckets.clear()  # everyone starts full again: safe, merely generous
            bucket = self._buckets[key] = _Bucket(full, now_ns)
            return bucket
        elapsed_ns = max(0, now_ns - bucket.at_ns)
        earned = elapsed_ns * rate.milli_per_s // NS_PER_S
        if earned:  # keep the remainder of a partial millitoken for the next call
            bucket.millitokens = min(full, bucket.millitokens + earned)
            bucket.at_ns += earned * NS_PER_S // rate.milli_per_s
        if bucket.millitokens == full:
            bucket.at_ns = now_ns
        return bucket
