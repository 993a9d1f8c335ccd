"""SQL for the credit score's own rows: consents, snapshots, the monthly pass, admission queries.

Core, one statement per call. Inserts that must happen once are `ON CONFLICT DO NOTHING` with
RETURNING (drivers disagree on rowcount there); consent rows are read `FOR UPDATE` on PostgreSQL
when a change or a score computation depends on them (SQLite serialises writers).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping

from paybao.adapters.db.tables.merchant import merchants
from paybao.adapters.db.tables.score import (
    score_admissions,
    score_consents,
    score_months,
    score_snapshots,
)
from paybao.domain.score import (
    AdmissionReason,
    Band,
    Dimension,
    DimensionScore,
    Outcome,
    Purpose,
    Reason,
    Score,
)
from paybao.services.score import AdmissionRecord, Consent, Snapshot
from paybao.services.score_months import MonthState

_GRANTED = "granted"
_REVOKED = "revoked"


class SqlScoreStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Consents ---------------------------------------------------------------------------------

    def consents(self, tx: Connection, user_id: int, *, for_update: bool = False) -> list[Consent]:
        query = select(score_consents).where(score_consents.c.user_id == user_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        return [_consent(row) for row in tx.execute(query).mappings()]

    def set_consent(
        self, tx: Connection, user_id: int, purpose: Purpose, granted: bool, now_us: int
    ) -> None:
        status = _GRANTED if granted else _REVOKED
        values = {
            "user_id": user_id,
            "purpose": purpose.value,
            "status": status,
            "granted_at_us": now_us,
            "changed_at_us": now_us,
        }
        changed: dict[str, Any] = {"status": status, "changed_at_us": now_us}
        if granted:
            changed["granted_at_us"] = now_us
        statement = self._insert(score_consents).values(**values)
        tx.execute(
            statement.on_conflict_do_update(index_elements=["user_id", "purpose"], set_=changed)
        )

    def any_consent(self, tx: Connection) -> bool:
        query = select(exists().where(score_consents.c.status == _GRANTED))
        return bool(tx.execute(query).scalar())

    def consenting_users(self, tx: Connection, after_user_id: int, limit: int) -> list[int]:
        assert 0 < limit <= 1000
        query = (
            select(score_consents.c.user_id)
            .where(
                score_consents.c.purpose == Purpose.SCORE.value,
                score_consents.c.status == _GRANTED,
                score_consents.c.user_id > after_user_id,
            )
            .order_by(score_consents.c.user_id)
            .limit(limit)
        )
        return [int(user_id) for user_id in tx.execute(query).scalars()]

    # Snapshots --------------------------------------------------------------------------------

    def snapshot(self, tx: Connection, user_id: int, period: str | None = None) -> Snapshot | None:
        query = select(score_snapshots).where(score_snapshots.c.user_id == user_id)
        if period is not None:
            query = query.where(score_snapshots.c.period == period)
        query = query.order_by(score_snapshots.c.period.desc()).limit(1)
        row = tx.execute(query).mappings().first()
        return _snapshot(row) if row is not None else None

    def insert_snapshot(self, tx: Connection, snapshot: Snapshot) -> bool:
        score = snapshot.score
        values: dict[str, Any] = {
            "user_id": snapshot.user_id,
            "period": snapshot.period,
            "total": score.total,
            "band": score.band.value,
            "reasons": _reasons_json(score),
            "tips": ",".join(score.tips),
            "model": score.model,
            "computed_at_us": snapshot.computed_at_us,
        }
        values.update({f"{d.dimension.value}_points": d.points for d in score.dimensions})
        statement = self._insert(score_snapshots).values(**values).on_conflict_do_nothing()
        return tx.execute(statement.returning(score_snapshots.c.id)).scalar() is not None

    def history(self, tx: Connection, user_id: int, limit: int) -> list[tuple[str, int]]:
        assert 0 < limit <= 120
        query = (
            select(score_snapshots.c.period, score_snapshots.c.total)
            .where(score_snapshots.c.user_id == user_id)
            .order_by(score_snapshots.c.period.desc())
            .limit(limit)
        )
        return [(str(period), int(total)) for period, total in tx.execute(query)]

    def delete_snapshots(
        self, tx: Connection, user_id: int, before_period: str | None = None
    ) -> int:
        statement = delete(score_snapshots).where(score_snapshots.c.user_id == user_id)
        if before_period is not None:
            statement = statement.where(score_snapshots.c.period < before_period)
        return int(tx.execute(statement).rowcount)

    # The monthly pass -------------------------------------------------------------------------

    def month_state(self, tx: Connection, *, for_update: bool = False) -> MonthState | None:
        query = select(score_months).order_by(score_months.c.period.desc()).limit(1)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return MonthState(**row) if row is not None else None

    def save_month(self, tx: Connection, state: MonthState) -> None:
        values = {
            "period": state.period,
            "status": state.status,
            "cursor_user_id": state.cursor_user_id,
            "users_scored": state.users_scored,
            "started_at_us": state.started_at_us,
            "finished_at_us": state.finished_at_us,
        }
        changed = {name: value for name, value in values.items() if name != "period"}
        statement = self._insert(score_months).values(**values)
        tx.execute(statement.on_conflict_do_update(index_elements=["period"], set_=changed))

    # Admission queries ------------------------------------------------------------------------

    def admission(self, tx: Connection, app_id: str, transaction_id: str) -> AdmissionRecord | None:
        query = select(score_admissions).where(
            score_admissions.c.app_id == app_id,
            score_admissions.c.transaction_id == transaction_id,
        )
        row = tx.execute(query).mappings().first()
        return _admission(row) if row is not None else None

    def insert_admission(self, tx: Connection, record: AdmissionRecord) -> bool:
        values = {
            "biz_no": record.biz_no,
            "app_id": record.app_id,
            "merchant_id": record.merchant_id,
            "transaction_id": record.transaction_id,
            "fingerprint": record.fingerprint,
            "user_id": record.user_id,
            "threshold": record.threshold,
            "outcome": record.outcome.value,
            "reasons": ",".join(reason.value for reason in record.reasons),
            "created_at_us": record.created_at_us,
        }
        statement = (
            self._insert(score_admissions)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["app_id", "transaction_id"])
        )
        return tx.execute(statement.returning(score_admissions.c.id)).scalar() is not None

    def admissions_of(self, tx: Connection, user_id: int, limit: int) -> list[AdmissionRecord]:
        assert 0 < limit <= 200
        query = (
            select(score_admissions, merchants.c.name.label("merchant_name"))
            .select_from(
                score_admissions.outerjoin(
                    merchants, merchants.c.id == score_admissions.c.merchant_id
                )
            )
            .where(score_admissions.c.user_id == user_id)
            .order_by(score_admissions.c.id.desc())
            .limit(limit)
        )
        return [_admission(row) for row in tx.execute(query).mappings()]


def _consent(row: RowMapping) -> Consent:
    return Consent(
        purpose=Purpose(row["purpose"]),
        granted=row["status"] == _GRANTED,
        granted_at_us=int(row["granted_at_us"]),
        changed_at_us=int(row["changed_at_us"]),
    )


def _reasons_json(score: Score) -> str:
    reasons = {
        d.dimension.value: [[r.code, r.value, r.points] for r in d.reasons]
        for d in score.dimensions
    }
    return json.dumps(reasons, separators=(",", ":"), sort_keys=True)


def _snapshot(row: RowMapping) -> Snapshot:
    reasons = json.loads(row["reasons"])
    dimensions = tuple(
        DimensionScore(
            dimension=dimension,
            points=int(row[f"{dimension.value}_points"]),
            reasons=tuple(Reason(str(c), int(v), int(p)) for c, v, p in reasons[dimension.value]),
        )
        for dimension in Dimension
    )
    tips = tuple(tip for tip in str(row["tips"]).split(",") if tip)
    score = Score(int(row["total"]), Band(row["band"]), dimensions, tips, str(row["model"]))
    return Snapshot(int(row["user_id"]), str(row["period"]), score, int(row["computed_at_us"]))


def _admission(row: RowMapping) -> AdmissionRecord:
    reasons = tuple(AdmissionReason(r) for r in str(row["reasons"]).split(",") if r)
    return AdmissionRecord(
        biz_no=str(row["biz_no"]),
        app_id=str(row["app_id"]),
        merchant_id=int(row["merchant_id"]),
        transaction_id=str(row["transaction_id"]),
        fingerprint=str(row["fingerprint"]),
        user_id=None if row["user_id"] is None else int(row["user_id"]),
        threshold=int(row["threshold"]),
        outcome=Outcome(row["outcome"]),
        reasons=reasons,
        created_at_us=int(row["created_at_us"]),
        merchant_name=str(row.get("merchant_name") or ""),
    )
