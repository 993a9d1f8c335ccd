"""Group commit: many concurrent callers, one database transaction per batch.

Callers `submit` a small list of transfers (one linked chain, or independent transfers) and get
a Future. One poster thread drains the queue into batches of up to `batch_size_max` transfers
and applies each batch in a single transaction, so the fsync is paid once per batch instead of
once per transfer. While a batch commits, the next one fills up: the batch size adapts to the
load by itself, with no timer to tune. The ledger rules make each transfer (or linked chain)
succeed or fail on its own, so one bad transfer never fails its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from paybao.domain.errors import InvalidInput, Retryable
from paybao.domain.ledger import BATCH_SIZE_MAX, Transfer, TransferFlags, TransferOutcome
from paybao.services.ledger import LedgerService

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Submission:
    transfers: Sequence[Transfer]
    # Exactly one of the two: a thread waiter or an asyncio waiter (with its loop).
    future: Future[list[TransferOutcome]] | None = None
    waiter: asyncio.Future[list[TransferOutcome]] | None = None
    loop: asyncio.AbstractEventLoop | None = None


class Poster:
    def __init__(
        self,
        ledger: LedgerService,
        *,
        batch_size_max: int = 1000,
        queue_size_max: int = 100_000,
    ) -> None:
        assert 0 < batch_size_max <= BATCH_SIZE_MAX
        assert queue_size_max >= batch_size_max
        self._ledger = ledger
        self._batch_size_max = batch_size_max
        self._queue_size_max = queue_size_max
        self._queue: deque[_Submission] = deque()
        self._queued_transfers = 0
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches_committed = 0
        self.transfers_committed = 0

    def start(self) -> Poster:
        assert self._thread is None, "poster already started"
        self._thread = threading.Thread(target=self._run, name="ledger-poster", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def submit(self, transfers: Sequence[Transfer]) -> Future[list[TransferOutcome]]:
        """For threads: a Future to wait on."""
        future: Future[list[TransferOutcome]] = Future()
        self._enqueue(_Submission(transfers, future=future))
        return future

    def submit_async(self, transfers: Sequence[Transfer]) -> asyncio.Future[list[TransferOutcome]]:
        """For coroutines: an asyncio future of the running loop. Results of a whole batch
        reach a loop in one callback, not one wake-up per transfer."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[TransferOutcome]] = loop.create_future()
        self._enqueue(_Submission(transfers, waiter=waiter, loop=loop))
        return waiter

    def _enqueue(self, submission: _Submission) -> None:
        transfers = submission.transfers
        if not 0 < len(transfers) <= self._batch_size_max:
            raise InvalidInput("a submission holds 1..batch_size_max transfers")
        if transfers[-1].flags & TransferFlags.LINKED:
            # An open chain would link into a stranger's transfers in the same batch.
            raise InvalidInput("linked chain is open", code="linked_event_chain_open")
        with self._wakeup:
            if self._stopping:
                raise Retryable("poster is stopping", code="poster_stopped")
            if self._queued_transfers + len(transfers) > self._queue_size_max:
                raise Retryable("poster queue is full", code="poster_overloaded")
            self._queue.append(submission)
            self._queued_transfers += len(transfers)
            self._wakeup.notify()

    def post(self, transfers: Sequence[Transfer], timeout_s: float = 30.0) -> list[TransferOutcome]:
        return self.submit(transfers).result(timeout=timeout_s)

    def _take_batch(self) -> list[_Submission] | None:
        with self._wakeup:
            while not self._queue and not self._stopping:
                self._wakeup.wait()
            if not self._queue:
                return None
            batch: list[_Submission] = []
            size = 0
            while self._queue and size + len(self._queue[0].transfers) <= self._batch_size_max:
                submission = self._queue.popleft()
                batch.append(submission)
                size += len(submission.transfers)
            self._queued_transfers -= size
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            self._commit(batch)

    def _commit(self, batch: list[_Submission]) -> None:
        transfers = [t for submission in batch for t in submission.transfers]
        try:
            outcomes = self._ledger.apply(transfers)
        except Exception as error:  # every waiter must hear about it; the loop goes on
            log.exception("ledger batch of %d transfers failed", len(transfers))
            self._resolve([(submission, error) for submission in batch])
            return
        assert len(outcomes) == len(transfers)
        self.batches_committed += 1
        self.transfers_committed += len(transfers)
        results: list[tuple[_Submission, list[TransferOutcome] | Exception]] = []
        start = 0
        for submission in batch:
            end = start + len(submission.transfers)
            results.append((submission, outcomes[start:end]))
            start = end
        self._resolve(results)

    def _resolve(
        self, results: list[tuple[_Submission, list[TransferOutcome] | Exception]]
    ) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Submission, object]]] = {}
        for submission, result in results:
            if submission.future is not None:
                if isinstance(result, Exception):
                    submission.future.set_exception(result)
                else:
                    submission.future.set_result(result)
            else:
                assert submission.loop is not None
                by_loop.setdefault(submission.loop, []).append((submission, result))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_waiters, items)
            except RuntimeError:  # the loop was closed: nobody is waiting any more
                log.warning("event loop closed before %d results were delivered", len(items))


def _settle_waiters(items: list[tuple[_Submission, object]]) -> None:
    """Runs on the waiters' event loop."""
    for submission, result in items:
        waiter = submission.waiter
        assert waiter is not None
        if waiter.done():  # the caller gave up (cancelled or timed out)
            continue
        if isinstance(result, Exception):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)  # type: ignore[arg-type]
