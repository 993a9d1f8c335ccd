"""SQL behind services/ledger_seals.py: the chain's blocks (`ledger_seals`) and the transfers
they seal, read in seq order through the primary key of `ledger_transfers`.

Nothing here locks a ledger row: the sealer reads transfers like any reader, and the only
write is one INSERT into `ledger_seals`, whose primary key (block_no) decides a race.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select

from paybao.adapters.db.tables.ledger import ledger_seals, ledger_transfers
from paybao.domain.ledger_seal import Block, SealedTransfer

_t = ledger_transfers
_s = ledger_seals
# The immutable columns, in the encoding's order (SealedTransfer's fields).
_SEALED_COLUMNS = [_t.c[name] for name in SealedTransfer._fields]


def _block(row: Any) -> Block:
    return Block(
        block_no=int(row.block_no),
        from_seq=int(row.from_seq),
        to_seq=int(row.to_seq),
        transfer_count=int(row.transfer_count),
        gaps=row.gaps,
        hash=row.hash,
        prev_hash=row.prev_hash,
        sealed_at_us=int(row.sealed_at_us),
    )


def _transfer(row: Any) -> SealedTransfer:
    # int() of every integer: PostgreSQL and SQLite drivers agree, and a Decimal or a bool
    # from some driver would encode differently.
    return SealedTransfer(
        seq=int(row.seq),
        id=row.id,
        debit_account_id=int(row.debit_account_id),
        credit_account_id=int(row.credit_account_id),
        amount_fen=int(row.amount_fen),
        currency=row.currency,
        code=int(row.code),
        flags=int(row.flags),
        pending_id=row.pending_id,
        timeout_s=int(row.timeout_s),
        reference=row.reference,
        created_at_us=int(row.created_at_us),
        expires_at_us=None if row.expires_at_us is None else int(row.expires_at_us),
    )


class SqlSealStore:
    def head(self, tx: Connection) -> Block | None:
        row = tx.execute(select(_s).order_by(_s.c.block_no.desc()).limit(1)).first()
        return None if row is None else _block(row)

    def transfers_after(
        self, tx: Connection, after_seq: int, upto_seq: int | None, limit: int
    ) -> list[SealedTransfer]:
        query = select(*_SEALED_COLUMNS).where(_t.c.seq > after_seq)
        if upto_seq is not None:
            query = query.where(_t.c.seq <= upto_seq)
        rows = tx.execute(query.order_by(_t.c.seq).limit(limit)).all()
        return [_transfer(row) for row in rows]

    def nth_after(self, tx: Connection, after_seq: int, n: int) -> SealedTransfer | None:
        query = select(*_SEALED_COLUMNS).where(_t.c.seq > after_seq).order_by(_t.c.seq)
        row = tx.execute(query.offset(n - 1).limit(1)).first()
        return None if row is None else _transfer(row)

    def insert_block(self, tx: Connection, block: Block) -> None:
        tx.execute(
            insert(_s).values(
                block_no=block.block_no,
                from_seq=block.from_seq,
                to_seq=block.to_seq,
                transfer_count=block.transfer_count,
                gaps=block.gaps,
                hash=block.hash,
                prev_hash=block.prev_hash,
                sealed_at_us=block.sealed_at_us,
            )
        )

    def blocks_after(self, tx: Connection, after_block_no: int, limit: int) -> list[Block]:
        query = select(_s).where(_s.c.block_no > after_block_no).order_by(_s.c.block_no)
        return [_block(row) for row in tx.execute(query.limit(limit)).all()]

    def seqs_below(self, tx: Connection, seq: int, limit: int) -> list[int]:
        query = select(_t.c.seq).where(_t.c.seq < seq).order_by(_t.c.seq).limit(limit)
        return [int(found) for found in tx.execute(query).scalars()]

    def unsealed(
        self, tx: Connection, after_seq: int, created_before_us: int
    ) -> tuple[int, int, int]:
        # A range scan of the primary key past the head: the unsealed tail is what the
        # horizon holds back (minutes of transfers) unless sealing has stopped.
        overdue = _t.c.created_at_us < created_before_us
        query = select(
            func.count(),
            func.count().filter(overdue),
            func.min(_t.c.seq).filter(overdue),
        ).where(_t.c.seq > after_seq)
        total, late, first = tx.execute(query).one()
        return int(total), int(late or 0), int(first or 0)
