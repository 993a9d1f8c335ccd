"""SQL for Huabei checkout installments: the terms a merchant's order set (one row per trade,
inserted in the trade's own transaction). The plans are credit_installment_store.py's."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from paybao.adapters.db.tables.checkout_installments import checkout_installment_terms
from paybao.domain.checkout_installments import InstallmentTerms

_TERMS = checkout_installment_terms


class SqlCheckoutTermsStore:
    def insert_terms(
        self, tx: Connection, trade_no: str, terms: InstallmentTerms, now_us: int
    ) -> None:
        """Once per trade: the trade's insert just succeeded in this transaction."""
        values = {
            "trade_no": trade_no,
            "periods_count": terms.count,
            "seller_percent": terms.seller_percent,
            "installments_allowed": int(terms.installments_allowed),
            "credit_allowed": int(terms.credit_allowed),
            "created_at_us": now_us,
        }
        tx.execute(insert(_TERMS).values(**values))

    def terms(self, tx: Connection, trade_no: str) -> InstallmentTerms | None:
        row = tx.execute(select(_TERMS).where(_TERMS.c.trade_no == trade_no)).mappings().first()
        if row is None:
            return None
        count = row["periods_count"]
        return InstallmentTerms(
            count=None if count is None else int(count),
            seller_percent=int(row["seller_percent"]),
            installments_allowed=bool(row["installments_allowed"]),
            credit_allowed=bool(row["credit_allowed"]),
        )
