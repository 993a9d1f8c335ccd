"""Read-only SQL behind the admin console: audit paging, limit usage of many users, job health
and the ledger explorer. Nothing here writes; every list has a hard LIMIT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

from paybao.adapters.db.tables.ledger import ledger_accounts, ledger_transfers
from paybao.adapters.db.tables.platform import jobs
from paybao.adapters.db.tables.wallet import audit_log, balance_usage, operators

PAGE_SIZE_MAX = 200


@dataclass(frozen=True, slots=True)
class JobHealth:
    due: int  # pending jobs whose time has come: a growing number means the worker is behind
    pending: int
    dead: int  # gave up after their retries: someone must look
    last_done_at_us: int | None  # the last job a worker finished: when the worker last worked
    next_due_at_us: int | None


def operator_names(tx: Connection, operator_ids: set[int]) -> dict[int, str]:
    if not operator_ids:
        return {}
    query = select(operators.c.id, operators.c.name).where(operators.c.id.in_(operator_ids))
    return {int(row.id): str(row.name) for row in tx.execute(query)}


def audit_page(
    tx: Connection, *, before_id: int | None, limit: int, subject: str = ""
) -> list[Any]:
    """Newest first; `before_id` is the cursor (the last id of the previous page)."""
    assert 0 < limit <= PAGE_SIZE_MAX
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if subject:
        query = query.where(audit_log.c.subject == subject)
    return list(tx.execute(query).all())


def usage_of(tx: Connection, user_ids: list[int], periods: list[str]) -> dict[tuple[int, str], int]:
    """Balance-payment usage per (user, period) for a page of users, in one query."""
    if not user_ids:
        return {}
    query = select(balance_usage).where(
        balance_usage.c.user_id.in_(user_ids), balance_usage.c.period.in_(periods)
    )
    return {(int(r.user_id), str(r.period)): int(r.used_fen) for r in tx.execute(query)}


def job_health(tx: Connection, now_us: int) -> JobHealth:
    def count(*conditions: Any) -> int:
        return int(
            tx.execute(select(func.count()).select_from(jobs).where(*conditions)).scalar_one()
        )

    pending = jobs.c.status == "pending"
    last_done = tx.execute(select(func.max(jobs.c.done_at_us))).scalar()
    next_due = tx.execute(select(func.min(jobs.c.due_at_us)).where(pending)).scalar()
    return JobHealth(
        due=count(pending, jobs.c.due_at_us <= now_us),
        pending=count(pending),
        dead=count(jobs.c.status == "dead"),
        last_done_at_us=int(last_done) if last_done is not None else None,
        next_due_at_us=int(next_due) if next_due is not None else None,
    )


def find_account(tx: Connection, ref: str) -> Any:
    """An account by numeric id or by its key (e.g. 'platform:bank_clearing:CNY'), or None."""
    ref = ref.strip()
    condition = ledger_accounts.c.key == ref
    if ref.isdigit():
        condition = or_(condition, ledger_accounts.c.id == int(ref))
    return tx.execute(select(ledger_accounts).where(condition).limit(1)).first()


def platform_accounts(tx: Connection, limit: int = 50) -> list[Any]:
    query = (
        select(ledger_accounts)
        .where(ledger_accounts.c.owner_kind == "platform")
        .order_by(ledger_accounts.c.id)
        .limit(limit)
    )
    return list(tx.execute(query).all())


def account_transfers(
    tx: Connection, account_id: int, *, before_seq: int | None, limit: int
) -> list[Any]:
    """Transfers touching the account, newest first; each side read through its own index."""
    assert 0 < limit <= PAGE_SIZE_MAX
    rows: list[Any] = []
    for side in (ledger_transfers.c.debit_account_id, ledger_transfers.c.credit_account_id):
        query = (
            select(ledger_transfers)
            .where(side == account_id)
            .order_by(ledger_transfers.c.seq.desc())
            .limit(limit)
        )
        if before_seq is not None:
            query = query.where(ledger_transfers.c.seq < before_seq)
        rows.extend(tx.execute(query).all())
    rows.sort(key=lambda row: row.seq, reverse=True)
    return rows[:limit]
