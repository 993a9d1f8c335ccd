"""SQL reads of the monthly/annual statements and the transaction search.

Every read is by the wallet's account id: time ranges use the indexes on (debit_account_id,
created_at_us) and (credit_account_id, created_at_us) (migration 0034), a search page the
indexes on (account, seq); none reads other accounts' transfers. Counterparties are looked up
by key in chunks of PARTIES_CHUNK (trade_no, transfer id, escrow_no: all unique indexes).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, not_, or_, select

from paybao.adapters.db.tables.escrow import escrow_trades
from paybao.adapters.db.tables.ledger import ledger_accounts, ledger_transfers
from paybao.adapters.db.tables.merchant import merchants
from paybao.adapters.db.tables.trade import trades
from paybao.adapters.db.tables.wallet import users, wallet_transfers
from paybao.domain.identity import mask_phone, mask_real_name
from paybao.domain.ledger import TransferFlags
from paybao.domain.statement_summaries import Line, SearchFilter
from paybao.services.statement_summaries import Party
from paybao.services.wallet_statement import ENTRY_KIND_OTHER, ENTRY_KINDS

PARTIES_CHUNK = 500
_CODES_BY_KIND = {kind: code for code, kind in ENTRY_KINDS.items()}
_P2P = "p2p:"

_t = ledger_transfers
# Holds and voids never changed the balance; a post did (the wallet statement's rule).
_EFFECTIVE = _t.c.flags.op("&")(int(TransferFlags.PENDING | TransferFlags.VOID_PENDING)) == 0


def _signed(account_id: int) -> ColumnElement[Any]:
    return case((_t.c.credit_account_id == account_id, _t.c.amount_fen), else_=-_t.c.amount_fen)


def _of_account(account_id: int, *conditions: ColumnElement[bool]) -> Select[Any]:
    """The account's effective transfers as (seq, code, signed amount, time, reference).

    Two index range reads joined by UNION ALL rather than one OR: each side then reads only its
    own index (account, created_at_us) or (account, seq), on SQLite as on PostgreSQL.
    """
    columns = (_t.c.seq, _t.c.code, _t.c.created_at_us, _t.c.reference)
    debit = select(*columns, (-_t.c.amount_fen).label("amount")).where(
        _t.c.debit_account_id == account_id, _EFFECTIVE, *conditions
    )
    credit = select(*columns, _t.c.amount_fen.label("amount")).where(
        _t.c.credit_account_id == account_id, _EFFECTIVE, *conditions
    )
    union = debit.union_all(credit).subquery()
    return select(union)


def _line(row: Any) -> Line:
    return Line(
        seq=int(row.seq),
        kind=ENTRY_KINDS.get(row.code, ENTRY_KIND_OTHER),
        amount_fen=int(row.amount),
        at_us=int(row.created_at_us),
        reference=row.reference,
    )


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), PARTIES_CHUNK):
        yield values[start : start + PARTIES_CHUNK]


class SqlStatementSummaryStore:
    def lines_between(
        self, tx: Connection, account_id: int, from_us: int, to_us: int, limit: int
    ) -> list[Line]:
        query = _of_account(account_id, _t.c.created_at_us >= from_us, _t.c.created_at_us < to_us)
        inner = query.subquery()
        ordered = select(inner).order_by(inner.c.seq).limit(limit)
        return [_line(row) for row in tx.execute(ordered)]

    def balance_at(self, tx: Connection, account_id: int, at_us: int) -> int:
        # The posted balance now, less what moved since `at_us`: one statement (one snapshot),
        # reading only the entries after `at_us` (recent months are the ones asked for).
        since = _of_account(account_id, _t.c.created_at_us >= at_us).subquery()
        moved = select(func.coalesce(func.sum(since.c.amount), 0)).scalar_subquery()
        a = ledger_accounts
        query = select((a.c.credits_posted - a.c.debits_posted - moved).label("balance")).where(
            a.c.id == account_id
        )
        return int(tx.execute(query).scalar_one())

    def scan(
        self,
        tx: Connection,
        account_id: int,
        search: SearchFilter,
        before_seq: int | None,
        limit: int,
    ) -> list[Line]:
        conditions: list[ColumnElement[bool]] = []
        if search.kinds:
            conditions.append(_kinds_condition(search.kinds))
        if search.min_fen is not None:
            conditions.append(_t.c.amount_fen >= search.min_fen)
        if search.max_fen is not None:
            conditions.append(_t.c.amount_fen <= search.max_fen)
        if search.from_us is not None:
            conditions.append(_t.c.created_at_us >= search.from_us)
        if search.to_us is not None:
            conditions.append(_t.c.created_at_us < search.to_us)
        if before_seq is not None:
            conditions.append(_t.c.seq < before_seq)
        inner = _of_account(account_id, *conditions).subquery()
        ordered = select(inner).order_by(inner.c.seq.desc()).limit(limit)
        return [_line(row) for row in tx.execute(ordered)]

    def parties(self, tx: Connection, user_id: int, references: Iterable[str]) -> dict[str, Party]:
        refs = sorted(set(references))
        transfer_ids = sorted(
            {int(r[len(_P2P) :]) for r in refs if r.startswith(_P2P) and r[len(_P2P) :].isdigit()}
        )
        others = [r for r in refs if not r.startswith(_P2P)]
        found: dict[str, Party] = {}
        found.update(self._trade_parties(tx, others))
        found.update(self._escrow_parties(tx, others))
        found.update(self._transfer_parties(tx, user_id, transfer_ids))
        return found

    def _trade_parties(self, tx: Connection, refs: list[str]) -> dict[str, Party]:
        found: dict[str, Party] = {}
        for chunk in _chunks(refs):
            query = (
                select(
                    trades.c.trade_no,
                    trades.c.subject,
                    merchants.c.name,
                    trades.c.total_fen,
                    trades.c.discount_fen,
                    trades.c.mdiscount_fen,
                )
                .join(merchants, merchants.c.id == trades.c.merchant_id)
                .where(trades.c.trade_no.in_(chunk))
            )
            for row in tx.execute(query):
                total_fen = int(row.total_fen)
                buyer_pay_fen = total_fen - int(row.discount_fen) - int(row.mdiscount_fen)
                found[row.trade_no] = Party(row.name, row.subject, total_fen, buyer_pay_fen)
        return found

    def _escrow_parties(self, tx: Connection, refs: list[str]) -> dict[str, Party]:
        found: dict[str, Party] = {}
        e = escrow_trades
        for chunk in _chunks(refs):
            query = (
                select(e.c.escrow_no, e.c.title, merchants.c.name, users.c.real_name, users.c.phone)
                .add_columns(e.c.total_fen, e.c.refund_fen, e.c.discount_fen, e.c.discount_back_fen)
                .outerjoin(merchants, merchants.c.id == e.c.merchant_id)
                .outerjoin(users, users.c.id == e.c.seller_user_id)
                .where(e.c.escrow_no.in_(chunk))
            )
            for row in tx.execute(query):
                name = row.name or (_person(row.real_name, row.phone) if row.phone else "")
                # What the seller kept of the order, and the buyer's part of it (as the wallet
                # statement's escrow payment entry).
                kept_fen = int(row.total_fen) - int(row.refund_fen)
                coupon_fen = int(row.discount_fen) - int(row.discount_back_fen)
                found[row.escrow_no] = Party(name, row.title, kept_fen, kept_fen - coupon_fen)
        return found

    def _transfer_parties(
        self, tx: Connection, user_id: int, transfer_ids: list[int]
    ) -> dict[str, Party]:
        found: dict[str, Party] = {}
        w = wallet_transfers
        other_id = case((w.c.payer_user_id == user_id, w.c.payee_user_id), else_=w.c.payer_user_id)
        for start in range(0, len(transfer_ids), PARTIES_CHUNK):
            chunk = transfer_ids[start : start + PARTIES_CHUNK]
            query = (
                select(w.c.id, w.c.memo, users.c.real_name, users.c.phone)
                .join(users, users.c.id == other_id)
                .where(w.c.id.in_(chunk))
                # Only the user's own transfers name anyone.
                .where(or_(w.c.payer_user_id == user_id, w.c.payee_user_id == user_id))
            )
            for row in tx.execute(query):
                found[f"{_P2P}{row.id}"] = Party(_person(row.real_name, row.phone), row.memo)
        return found


def _person(real_name: str | None, phone: str) -> str:
    """Another person as the statement names them: masked name and phone (as the payee check)."""
    masked = mask_phone(phone)
    return f"{mask_real_name(real_name)} {masked}" if real_name else masked


def _kinds_condition(kinds: frozenset[str]) -> ColumnElement[bool]:
    codes = sorted(_CODES_BY_KIND[k] for k in kinds if k in _CODES_BY_KIND)
    named = _t.c.code.in_(codes)
    if ENTRY_KIND_OTHER not in kinds:
        return named
    # "payment" is every code without a name of its own.
    other = not_(_t.c.code.in_(sorted(ENTRY_KINDS)))
    return or_(named, other) if codes else and_(other)
