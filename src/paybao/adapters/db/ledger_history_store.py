"""SQL reads behind services/ledger_history.py: one account's posted balance at an instant and
its transfers, newest first.

Every read is by the account's id: the debit and credit sides are read through their own
indexes, (account, created_at_us) for the balance and (account, seq) for a page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, func, literal, select

from paybao.adapters.db.tables.ledger import ledger_accounts, ledger_transfers
from paybao.services.ledger_history import CREDIT, DEBIT, NOT_POSTING, AccountTransfer
from paybao.services.ledger_history import TransferRange as Wanted

_t = ledger_transfers
_POSTING = _t.c.flags.op("&")(NOT_POSTING) == 0


def _moved_since(account_id: int, at_us: int) -> Any:
    """What the account's posted balance moved by from `at_us` on (a scalar subquery)."""
    since = (_t.c.created_at_us >= at_us, _POSTING)
    credit = select(_t.c.amount_fen.label("amount")).where(
        _t.c.credit_account_id == account_id, *since
    )
    debit = select((-_t.c.amount_fen).label("amount")).where(
        _t.c.debit_account_id == account_id, *since
    )
    union = credit.union_all(debit).subquery()
    return select(func.coalesce(func.sum(union.c.amount), 0)).scalar_subquery()


def _conditions(wanted: Wanted) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.from_us is not None:
        conditions.append(_t.c.created_at_us >= wanted.from_us)
    if wanted.to_us is not None:
        conditions.append(_t.c.created_at_us < wanted.to_us)
    if wanted.before_seq is not None:
        conditions.append(_t.c.seq < wanted.before_seq)
    return conditions


def _transfer(row: Any) -> AccountTransfer:
    return AccountTransfer(
        seq=int(row.seq),
        id=row.id,
        direction=row.direction,
        other_account_id=int(row.other_account_id),
        amount_fen=int(row.amount_fen),
        code=int(row.code),
        flags=int(row.flags),
        pending_id=row.pending_id,
        pending_status=row.pending_status,
        reference=row.reference,
        created_at_us=int(row.created_at_us),
    )


class SqlLedgerHistoryStore:
    def posted_balances(
        self, tx: Connection, account_id: int, at_us: int
    ) -> tuple[int, int] | None:
        # One statement, so the counters and the transfers since are of one snapshot.
        a = ledger_accounts
        now = a.c.credits_posted - a.c.debits_posted
        query = select(now.label("now"), (now - _moved_since(account_id, at_us)).label("at"))
        row = tx.execute(query.where(a.c.id == account_id)).first()
        return None if row is None else (int(row.at), int(row.now))

    def account_exists(self, tx: Connection, account_id: int) -> bool:
        query = select(ledger_accounts.c.id).where(ledger_accounts.c.id == account_id)
        return tx.execute(query).first() is not None

    def transfers(
        self, tx: Connection, account_id: int, wanted: Wanted, limit: int
    ) -> list[AccountTransfer]:
        conditions = _conditions(wanted)
        rows: list[Any] = []
        sides = (
            (_t.c.debit_account_id, _t.c.credit_account_id, DEBIT),
            (_t.c.credit_account_id, _t.c.debit_account_id, CREDIT),
        )
        for own, other, direction in sides:  # each side through its own (account, seq) index
            query = (
                select(_t, other.label("other_account_id"), literal(direction).label("direction"))
                .where(own == account_id, *conditions)
                .order_by(_t.c.seq.desc())
                .limit(limit)
            )
            rows.extend(tx.execute(query).all())
        rows.sort(key=lambda row: int(row.seq), reverse=True)
        return [_transfer(row) for row in rows[:limit]]
