"""SQL for coupon templates and coupons (services/marketing.py's CouponStore).

Budgets hold under concurrency because a template's issued count and reserved budget move by
one conditional UPDATE (`reserve`): two claims of the last coupon both run it, and the second
matches no row once the first has committed (PostgreSQL re-checks the WHERE on the updated row;
SQLite writers queue). A coupon is used by one trade by a conditional UPDATE on its status
(`redeem`), the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from paybao.adapters.db.tables.coupons import coupon_templates, coupons
from paybao.domain.coupons import (
    Coupon,
    CouponKind,
    CouponStatus,
    Held,
    Template,
    TemplateStatus,
    Terms,
    VoucherDetail,
)
from paybao.domain.trades import DiscountFunder

t = coupon_templates
c = coupons

# Built once: every payment at a till asks for its buyer's coupons (most have none).
_AVAILABLE = (
    select(c, t)
    .join(t, t.c.id == c.c.template_id)
    .where(
        c.c.user_id == bindparam("user_id"),
        c.c.status == CouponStatus.AVAILABLE.value,
        c.c.expires_at_us > bindparam("now_us"),
    )
    .order_by(c.c.expires_at_us, c.c.id)
    .limit(bindparam("limit"))
)


class SqlCouponStore:
    # Templates --------------------------------------------------------------------------------

    def insert_template(self, tx: Connection, terms: Terms, created_by: str, now_us: int) -> int:
        values = {
            "name": terms.name,
            "kind": terms.kind.value,
            "funder": terms.funder.value,
            "merchant_id": terms.merchant_id,
            "face_fen": terms.face_fen,
            "rate_permille": terms.rate_permille,
            "cap_fen": terms.cap_fen,
            "threshold_fen": terms.threshold_fen,
            "valid_from_us": terms.valid_from_us,
            "valid_until_us": terms.valid_until_us,
            "coupon_days": terms.coupon_days,
            "budget_fen": terms.budget_fen,
            "count_max": terms.count_max,
            "per_user_max": terms.per_user_max,
            "issue_min_fen": terms.issue_min_fen,
            "status": TemplateStatus.ACTIVE.value,
            "created_by": created_by,
            "created_at_us": now_us,
        }
        return int(tx.execute(insert(t).values(**values).returning(t.c.id)).scalar_one())

    def template(self, tx: Connection, template_id: int) -> Template | None:
        row = tx.execute(select(t).where(t.c.id == template_id)).mappings().first()
        return _template(row) if row is not None else None

    def templates(
        self, tx: Connection, *, limit: int, merchant_id: int | None = None
    ) -> list[Template]:
        """Newest first: all of them, or those a merchant created or is limited to."""
        query = select(t)
        if merchant_id is not None:
            query = query.where(t.c.merchant_id == merchant_id)
        query = query.order_by(t.c.id.desc()).limit(limit)
        return [_template(row) for row in tx.execute(query).mappings()]

    def running_templates(
        self, tx: Connection, now_us: int, *, claimable: bool, limit: int
    ) -> list[Template]:
        """Active templates whose window is open now: the claimable ones, or those issued after
        payments. Sold-out ones are the caller's to show or skip."""
        issue = t.c.issue_min_fen.is_(None) if claimable else t.c.issue_min_fen.is_not(None)
        query = (
            select(t)
            .where(
                t.c.status == TemplateStatus.ACTIVE.value,
                t.c.valid_from_us <= now_us,
                t.c.valid_until_us > now_us,
                issue,
            )
            .order_by(t.c.valid_until_us, t.c.id)
            .limit(limit)
        )
        return [_template(row) for row in tx.execute(query).mappings()]

    def reserve(self, tx: Connection, template_id: int, value_fen: int) -> bool:
        """Take one coupon's count and its value of budget, if both are left and it is active."""
        result = tx.execute(
            update(t)
            .where(
                t.c.id == template_id,
                t.c.status == TemplateStatus.ACTIVE.value,
                t.c.issued_count < t.c.count_max,
                t.c.issued_fen + value_fen <= t.c.budget_fen,
            )
            .values(issued_count=t.c.issued_count + 1, issued_fen=t.c.issued_fen + value_fen)
        )
        return result.rowcount == 1

    def stop_template(self, tx: Connection, template_id: int, now_us: int) -> bool:
        result = tx.execute(
            update(t)
            .where(t.c.id == template_id, t.c.status == TemplateStatus.ACTIVE.value)
            .values(status=TemplateStatus.STOPPED.value, stopped_at_us=now_us)
        )
        return result.rowcount == 1

    def usage(self, tx: Connection, template_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """template id -> (coupons used, total they took off)."""
        if not template_ids:
            return {}
        query = (
            select(c.c.template_id, func.count(), func.coalesce(func.sum(c.c.discount_fen), 0))
            .where(c.c.template_id.in_(list(template_ids)), c.c.status == "used")
            .group_by(c.c.template_id)
        )
        return {int(a): (int(b), int(d)) for a, b, d in tx.execute(query)}

    # Coupons ----------------------------------------------------------------------------------

    def held_count(self, tx: Connection, template_id: int, user_id: int) -> int:
        query = select(func.count()).where(c.c.template_id == template_id, c.c.user_id == user_id)
        return int(tx.execute(query).scalar_one())

    def insert_coupon(self, tx: Connection, coupon: Coupon, claim_no: int) -> int:
        """A unique (template, user, claim_no) or source_trade_no refuses a concurrent twin:
        the database layer retries the transaction, which then sees the twin."""
        values = {
            "template_id": coupon.template_id,
            "user_id": coupon.user_id,
            "claim_no": claim_no,
            "status": CouponStatus.AVAILABLE.value,
            "value_fen": coupon.value_fen,
            "issued_at_us": coupon.issued_at_us,
            "expires_at_us": coupon.expires_at_us,
            "source_trade_no": coupon.source_trade_no,
        }
        return int(tx.execute(insert(c).values(**values).returning(c.c.id)).scalar_one())

    def held(self, tx: Connection, user_id: int, coupon_ids: Sequence[int]) -> list[Held]:
        """The user's own coupons among these ids, with their terms."""
        query = (
            select(c, t)
            .join(t, t.c.id == c.c.template_id)
            .where(c.c.user_id == user_id, c.c.id.in_(list(coupon_ids)))
        )
        return [_held(row) for row in tx.execute(query).mappings()]

    def available(self, tx: Connection, user_id: int, now_us: int, limit: int) -> list[Held]:
        """The user's unused, unexpired coupons, soonest to expire first."""
        params = {"user_id": user_id, "now_us": now_us, "limit": limit}
        return [_held(row) for row in tx.execute(_AVAILABLE, params).mappings()]

    def of_user(
        self, tx: Connection, user_id: int, state: CouponStatus, now_us: int, limit: int
    ) -> list[Held]:
        """The user's coupons in one state (expired: available past their end), newest first."""
        query = select(c, t).join(t, t.c.id == c.c.template_id).where(c.c.user_id == user_id)
        if state is CouponStatus.USED:
            query = query.where(c.c.status == CouponStatus.USED.value)
        else:
            live = c.c.expires_at_us > now_us
            query = query.where(
                c.c.status == CouponStatus.AVAILABLE.value,
                live if state is CouponStatus.AVAILABLE else ~live,
            )
        query = query.order_by(c.c.id.desc()).limit(limit)
        return [_held(row) for row in tx.execute(query).mappings()]

    def by_source(self, tx: Connection, trade_no: str) -> Held | None:
        query = (
            select(c, t).join(t, t.c.id == c.c.template_id).where(c.c.source_trade_no == trade_no)
        )
        row = tx.execute(query).mappings().first()
        return _held(row) if row is not None else None

    def redeem(
        self,
        tx: Connection,
        coupon_id: int,
        trade_no: str,
        amount_fen: int,
        now_us: int,
    ) -> bool:
        """Mark an available, unexpired coupon used by the trade; False if it is not."""
        result = tx.execute(
            update(c)
            .where(
                c.c.id == coupon_id,
                c.c.status == CouponStatus.AVAILABLE.value,
                c.c.expires_at_us > now_us,
            )
            .values(
                status=CouponStatus.USED.value,
                trade_no=trade_no,
                used_at_us=now_us,
                discount_fen=amount_fen,
            )
        )
        return result.rowcount == 1

    def vouchers(self, tx: Connection, trade_no: str) -> list[VoucherDetail]:
        query = (
            select(c.c.id, c.c.template_id, t.c.name, t.c.kind, t.c.funder, c.c.discount_fen)
            .join(t, t.c.id == c.c.template_id)
            .where(c.c.trade_no == trade_no)
            .order_by(c.c.id)
        )
        return [
            VoucherDetail(
                coupon_id=int(row.id),
                template_id=int(row.template_id),
                name=str(row.name),
                kind=CouponKind(row.kind),
                funder=DiscountFunder(row.funder),
                amount_fen=int(row.discount_fen),
            )
            for row in tx.execute(query)
        ]


def _terms(row: Any) -> Terms:
    return Terms(
        name=row["name"],
        kind=CouponKind(row["kind"]),
        funder=DiscountFunder(row["funder"]),
        merchant_id=row["merchant_id"],
        face_fen=int(row["face_fen"]),
        rate_permille=int(row["rate_permille"]),
        cap_fen=int(row["cap_fen"]),
        threshold_fen=int(row["threshold_fen"]),
        valid_from_us=int(row["valid_from_us"]),
        valid_until_us=int(row["valid_until_us"]),
        coupon_days=int(row["coupon_days"]),
        budget_fen=int(row["budget_fen"]),
        count_max=int(row["count_max"]),
        per_user_max=int(row["per_user_max"]),
        issue_min_fen=row["issue_min_fen"],
    )


def _template(row: Any) -> Template:
    return Template(
        id=int(row["id"]),
        terms=_terms(row),
        status=TemplateStatus(row["status"]),
        issued_count=int(row["issued_count"]),
        issued_fen=int(row["issued_fen"]),
        created_by=row["created_by"],
        created_at_us=int(row["created_at_us"]),
    )


def _held(row: Any) -> Held:
    """A joined (coupon, template) row: the coupon's columns come first and win the names
    they share (id, status, discount_fen...), so the template's are read by their labels."""
    coupon = Coupon(
        id=int(row[c.c.id]),
        template_id=int(row[c.c.template_id]),
        user_id=int(row[c.c.user_id]),
        status=CouponStatus(row[c.c.status]),
        value_fen=int(row[c.c.value_fen]),
        issued_at_us=int(row[c.c.issued_at_us]),
        expires_at_us=int(row[c.c.expires_at_us]),
        trade_no=row[c.c.trade_no],
        used_at_us=row[c.c.used_at_us],
        discount_fen=int(row[c.c.discount_fen]),
        source_trade_no=row[c.c.source_trade_no],
    )
    return Held(coupon, _terms({col.name: row[col] for col in t.columns}))


__all__ = ["SqlCouponStore"]
