"""SQL for membership cards' dynamic write-off codes (services/member_card_codes.py).

Core, one statement per call. A code is found by its digest (unique index); a card's codes by
(card_id, id). The caller holds the card row locked while it replaces codes.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select
from sqlalchemy.engine import RowMapping

from paybao.adapters.db.tables.member_cards import member_card_codes
from paybao.services.member_card_codes import StoredCode

CODES_READ_MAX = 16  # a card holds at most a few; the cap keeps a read bounded whatever happens


def _code(row: RowMapping) -> StoredCode:
    return StoredCode(
        id=row["id"],
        card_id=row["card_id"],
        issued_at_us=row["issued_at_us"],
        expires_at_us=row["expires_at_us"],
    )


class SqlCardCodeStore:
    def codes_of(self, tx: Connection, card_id: int) -> list[StoredCode]:
        query = (
            select(member_card_codes)
            .where(member_card_codes.c.card_id == card_id)
            .order_by(member_card_codes.c.id.desc())
            .limit(CODES_READ_MAX)
        )
        return [_code(row) for row in tx.execute(query).mappings()]

    def delete_codes(self, tx: Connection, code_ids: list[int]) -> None:
        tx.execute(delete(member_card_codes).where(member_card_codes.c.id.in_(code_ids)))

    def insert_code(
        self, tx: Connection, digest: str, card_id: int, issued_at_us: int, expires_at_us: int
    ) -> None:
        tx.execute(
            member_card_codes.insert().values(
                code_digest=digest,
                card_id=card_id,
                issued_at_us=issued_at_us,
                expires_at_us=expires_at_us,
            )
        )

    def code_by_digest(self, tx: Connection, digest: str) -> StoredCode | None:
        query = select(member_card_codes).where(member_card_codes.c.code_digest == digest)
        row = tx.execute(query).mappings().first()
        return _code(row) if row is not None else None
