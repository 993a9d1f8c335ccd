"""A timeout on every call to a biller, whatever the adapter behind it.

Each call runs on a small pool of threads and is waited for `timeout_s` at most. An inquiry
that does not answer in time is `biller_unavailable` (nothing happened; ask later); a `pay`
that does not is UNKNOWN: the biller may still act on it, and the platform asks again with the
same request id (which the biller answers from its record). A call left running after its
timeout keeps its thread until it ends; the pool is bounded, so a hung biller makes later calls
time out too rather than piling up threads.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from paybao.adapters.billers.port import BillerAnswer, BillerChannel, BillerOutcome, Statement
from paybao.domain.billpay import BillerUnavailable, Category
from paybao.domain.errors import DomainError

log = logging.getLogger(__name__)
THREADS_MAX = 16


class TimedChannel:
    def __init__(self, inner: BillerChannel, timeout_s: float) -> None:
        assert 0 < timeout_s <= 60
        self.inner = inner
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(THREADS_MAX, thread_name_prefix="biller")

    def inquire(self, biller_code: str, category: Category, account_no: str) -> Statement:
        future = self._pool.submit(self.inner.inquire, biller_code, category, account_no)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            raise BillerUnavailable(
                f"biller {biller_code} did not answer within {self.timeout_s} s"
            ) from None
        except DomainError:
            raise
        except Exception as error:  # a broken biller is an unavailable one, not a crash
            log.warning("biller %s inquiry failed: %s", biller_code, error)
            raise BillerUnavailable(f"biller {biller_code} failed to answer") from None

    def pay(
        self,
        request_id: str,
        biller_code: str,
        category: Category,
        account_no: str,
        period: str,
        amount_fen: int,
    ) -> BillerAnswer:
        future = self._pool.submit(
            self.inner.pay, request_id, biller_code, category, account_no, period, amount_fen
        )
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            return BillerAnswer(BillerOutcome.UNKNOWN)
        except Exception as error:  # the request may have reached the biller: ask again later
            log.warning("biller %s pay %s failed: %s", biller_code, request_id, error)
            return BillerAnswer(BillerOutcome.UNKNOWN)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
