"""Payouts for operators: withdrawals and card payouts in flight, failed, or stuck at the bank.

A payout (`services/wallet_payouts.py`, `PayoutRows`) is `held` until its time, then `sent`
until the bank answers; a lost answer is settled by the bank-query job, which asks again with
backoff. After its last attempt (`jobs.ATTEMPTS_MAX`) that job is dead and the money stays held
in the user's wallet until somebody looks. This service lists payouts per table and status with
their query job, counts the money in flight, and lets finance re-arm the query ("ask the bank
now"), audited. Nothing here moves money: the bank's answer does, through the wallet's one write
path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from paybao.domain.cards import mask_card_number
from paybao.domain.errors import Conflict, InvalidInput, NotFound
from paybao.services.audit import AuditTrail
from paybao.services.clock import US_PER_S
from paybao.services.jobs import JobRunner
from paybao.services.ports import Clock, Database, Tx
from paybao.services.wallet_operations import JOB_BANK_QUERY
from paybao.services.wallet_payouts import WalletPayouts

PAGE_SIZE_MAX: Final = 100
# A payout the bank has not answered for this long deserves a look even while its query job
# still retries (a bank link that is down, a request the bank lost).
STUCK_AFTER_S: Final = 30 * 60
IN_FLIGHT: Final = ("held", "sent")
STATUSES: Final = ("held", "sent", "failed", "succeeded", "cancelled")
# Filters: a status, or "open" (every payout whose money is still held).
FILTERS: Final = ("open", *STATUSES)


@dataclass(frozen=True, slots=True)
class QueryJob:
    status: str  # pending | done | dead | cancelled
    attempts: int
    due_at_us: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PayoutLine:
    kind: str  # the payout table's prefix: withdraw, cardpayout, ...
    payout_id: int
    user_id: int
    card_masked: str
    amount_fen: int
    fee_fen: int
    arrival: str
    status: str
    failure_code: str | None
    created_at_us: int
    due_at_us: int
    finished_at_us: int | None
    query: QueryJob | None
    stuck: bool


@dataclass(frozen=True, slots=True)
class PayoutPage:
    lines: list[PayoutLine]  # newest first
    next_before_id: int | None  # the next page starts below this payout id; None: the end


@dataclass(frozen=True, slots=True)
class InFlight:
    """Money still held by one kind of payout, per status: (count, amount + fee in fen)."""

    kind: str
    by_status: dict[str, tuple[int, int]]


class PayoutWatchStore(Protocol):
    def page(
        self, tx: Tx, table: str, statuses: Sequence[str], before_id: int | None, limit: int
    ) -> list[Any]: ...

    def totals(self, tx: Tx, table: str, statuses: Sequence[str]) -> dict[str, tuple[int, int]]: ...

    def query_jobs(self, tx: Tx, kind: str, keys: Sequence[str]) -> dict[str, QueryJob]: ...


class PayoutWatch:
    def __init__(
        self,
        db: Database,
        store: PayoutWatchStore,
        payouts: WalletPayouts,
        jobs: JobRunner,
        clock: Clock,
        audit: AuditTrail,
    ) -> None:
        self.db = db
        self.store = store
        self.payouts = payouts
        self.jobs = jobs
        self.clock = clock
        self.audit = audit

    def kinds(self) -> list[str]:
        return list(self.payouts.rows)

    def in_flight(self) -> list[InFlight]:
        with self.db.read() as tx:
            return [
                InFlight(kind, self.store.totals(tx, rows.table, IN_FLIGHT))
                for kind, rows in self.payouts.rows.items()
            ]

    def page(
        self, kind: str, status: str = "open", *, before_id: int | None = None, limit: int = 50
    ) -> list[PayoutLine]:
        return self.payouts_page(kind, status, before_id=before_id, limit=limit).lines

    def payouts_page(
        self, kind: str, status: str = "open", *, before_id: int | None = None, limit: int = 50
    ) -> PayoutPage:
        """One kind's payouts by status, newest first, `limit` at a time; one row more is read
        so that a full last page says it is the last."""
        rows = self._rows(kind)
        if status not in FILTERS:
            raise InvalidInput(
                f"status is one of {', '.join(FILTERS)}", code="payout_status_invalid"
            )
        assert 0 < limit <= PAGE_SIZE_MAX
        statuses = IN_FLIGHT if status == "open" else (status,)
        now_us = self.clock.now_us()
        with self.db.read() as tx:
            found = self.store.page(tx, rows.table, statuses, before_id, limit + 1)
            more = len(found) > limit
            found = found[:limit]
            keys = [f"{kind}:{row.id}" for row in found]
            queries = self.store.query_jobs(tx, JOB_BANK_QUERY, keys)
            cards = [rows.destination_in(tx, row)[0] for row in found]
        lines = [
            _line(kind, row, card, queries.get(f"{kind}:{row.id}"), now_us)
            for row, card in zip(found, cards, strict=True)
        ]
        return PayoutPage(lines, lines[-1].payout_id if more else None)

    def ask_bank_now(
        self, kind: str, payout_id: int, operator_id: int | None, *, actor: str | None = None
    ) -> QueryJob:
        """Re-arm the bank query of a sent payout to run now, with fresh attempts (a dead one
        too). The worker runs it; its answer settles the payout as any answer would. Audited
        under the operator and `actor` (the API token, if one acted)."""
        rows = self._rows(kind)
        key = f"{kind}:{payout_id}"

        def work(tx: Tx) -> QueryJob:
            row = self.payouts.store.get(tx, rows.table, payout_id)
            if row is None:
                raise NotFound("no such payout", code="payout_not_found")
            if row.status != "sent":
                raise Conflict(
                    "only a payout waiting for the bank's answer can be asked about",
                    code="payout_not_sent",
                )
            now_us = self.clock.now_us()
            if not self.jobs.store.rearm(tx, JOB_BANK_QUERY, key, now_us):
                # A sent payout always has its query job (scheduled in the send's claim).
                raise Conflict("the bank query is running right now", code="payout_query_busy")
            self.audit.record_in(tx, "payout.query", key, operator_id=operator_id, actor=actor)
            return self.store.query_jobs(tx, JOB_BANK_QUERY, [key])[key]

        return self.db.run(work)

    def _rows(self, kind: str) -> Any:
        rows = self.payouts.rows.get(kind)
        if rows is None:
            raise InvalidInput("no such kind of payout", code="payout_kind_invalid")
        return rows


def _line(kind: str, row: Any, card: str, query: QueryJob | None, now_us: int) -> PayoutLine:
    waited_s = (now_us - row.due_at_us) // US_PER_S
    stuck = row.status == "sent" and (
        waited_s >= STUCK_AFTER_S or (query is not None and query.status == "dead")
    )
    return PayoutLine(
        kind=kind,
        payout_id=int(row.id),
        user_id=int(row.user_id),
        card_masked=mask_card_number(card),
        amount_fen=int(row.amount_fen),
        fee_fen=int(row.fee_fen),
        arrival=str(row.arrival),
        status=str(row.status),
        failure_code=row.failure_code,
        created_at_us=int(row.created_at_us),
        due_at_us=int(row.due_at_us),
        finished_at_us=row.finished_at_us,
        query=query,
        stuck=stuck,
    )
