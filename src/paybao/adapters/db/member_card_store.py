"""SQL for merchant membership cards (services/member_cards.py).

Core, one statement per call. The one-card-per-template-per-user rule and every idempotency key
are unique constraints: a concurrent insert that loses raises a unique violation, the
transaction is retried by `SqlDatabase.run`, and the retry reads the winner's row. A card row is
read FOR UPDATE on PostgreSQL before it changes, a template row too, and FOR KEY SHARE while a
card is opened on it (SQLite serialises writers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping

from paybao.adapters.db.tables.member_cards import (
    member_card_changes,
    member_card_requests,
    member_card_template_modifications,
    member_card_templates,
    member_cards,
)
from paybao.domain.member_cards import (
    CardStatus,
    CardValues,
    DeleteReason,
    FieldName,
    FieldRule,
    RuleName,
    TemplateSpec,
    TemplateStyle,
    WriteOff,
)
from paybao.services.clock import us_from_datetime
from paybao.services.member_cards import (
    Card,
    CardUpdate,
    Change,
    Lock,
    NewTemplate,
    OpenRequest,
    Template,
    TemplateModification,
)


def spec_json(spec: TemplateSpec) -> str:
    style = spec.style
    data = {
        "style": {
            "card_show_name": style.card_show_name,
            "logo_id": style.logo_id,
            "background_id": style.background_id,
            "bg_color": style.bg_color,
            "brand_name": style.brand_name,
        },
        "field_rules": [
            [rule.field_name.value, rule.rule_name.value, rule.rule_value]
            for rule in spec.field_rules
        ],
        "columns": list(spec.columns),
        "actions": list(spec.actions),
        "levels": list(spec.levels),
        "shop_ids": list(spec.shop_ids),
        "benefits": list(spec.benefits),
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _spec(row: RowMapping) -> TemplateSpec:
    data: dict[str, Any] = json.loads(row["spec"])
    return TemplateSpec(
        biz_no_prefix=row["biz_no_prefix"],
        biz_no_suffix_len=row["biz_no_suffix_len"],
        write_off=WriteOff(row["write_off_type"]),
        style=TemplateStyle(**data["style"]),
        field_rules=tuple(
            FieldRule(FieldName(name), RuleName(rule), value)
            for name, rule, value in data["field_rules"]
        ),
        columns=tuple(data["columns"]),
        actions=tuple(data["actions"]),
        levels=tuple(data["levels"]),
        shop_ids=tuple(data["shop_ids"]),
        benefits=tuple(data["benefits"]),
    )


def _template(row: RowMapping) -> Template:
    return Template(
        id=row["id"],
        template_id=row["template_id"],
        app_id=row["app_id"],
        merchant_id=row["merchant_id"],
        request_id=row["request_id"],
        fingerprint=row["fingerprint"],
        spec=_spec(row),
        created_at_us=row["created_at_us"],
        modified_at_us=row["modified_at_us"],
    )


def _card(row: RowMapping) -> Card:
    return Card(
        id=row["id"],
        biz_card_no=row["biz_card_no"],
        template_id=row["template_id"],
        app_id=row["app_id"],
        merchant_id=row["merchant_id"],
        user_id=row["user_id"],
        external_card_no=row["external_card_no"],
        point_hundredths=row["point_hundredths"],
        balance_fen=row["balance_fen"],
        level=row["level"],
        open_at_us=row["open_at_us"],
        valid_until_us=row["valid_until_us"],
        occurred_at_us=row["occurred_at_us"],
        opened_by=row["opened_by"],
        status=CardStatus(row["status"]),
        delete_reason=row["delete_reason"],
        created_at_us=row["created_at_us"],
        changed_at_us=row["changed_at_us"],
    )


def _change(row: RowMapping) -> Change:
    return Change(
        id=row["id"],
        card_id=row["card_id"],
        kind=row["kind"],
        occurred_at_us=row["occurred_at_us"],
        recorded_at_us=row["recorded_at_us"],
        point_hundredths=row["point_hundredths"],
        balance_fen=row["balance_fen"],
        level=row["level"],
        reason=row["reason"],
        applied=bool(row["applied"]),
    )


class SqlMemberCardStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Templates --------------------------------------------------------------------------------

    def template(self, tx: Connection, template_id: str, *, lock: Lock = None) -> Template | None:
        query = select(member_card_templates).where(
            member_card_templates.c.template_id == template_id
        )
        if lock is not None and self.dialect == "postgresql":
            # "share" is FOR KEY SHARE, the lock a foreign key check takes: opens never wait
            # on each other, only on a modify's FOR UPDATE.
            query = query.with_for_update(read=lock == "share", key_share=lock == "share")
        row = tx.execute(query).mappings().first()
        return _template(row) if row is not None else None

    def template_by_request(self, tx: Connection, app_id: str, request_id: str) -> Template | None:
        query = select(member_card_templates).where(
            member_card_templates.c.app_id == app_id,
            member_card_templates.c.request_id == request_id,
        )
        row = tx.execute(query).mappings().first()
        return _template(row) if row is not None else None

    def template_count(self, tx: Connection, app_id: str) -> int:
        query = (
            select(func.count())
            .select_from(member_card_templates)
            .where(member_card_templates.c.app_id == app_id)
        )
        return int(tx.execute(query).scalar_one())

    def insert_template(
        self, tx: Connection, template_id: str, new: NewTemplate, now_us: int
    ) -> None:
        spec = new.spec
        tx.execute(
            member_card_templates.insert().values(
                template_id=template_id,
                app_id=new.app_id,
                merchant_id=new.merchant_id,
                request_id=new.request_id,
                fingerprint=new.fingerprint,
                card_show_name=spec.style.card_show_name,
                biz_no_prefix=spec.biz_no_prefix,
                biz_no_suffix_len=spec.biz_no_suffix_len,
                write_off_type=spec.write_off.value,
                spec=spec_json(spec),
                created_at_us=now_us,
            )
        )

    def replace_spec(
        self, tx: Connection, template_id: str, spec: TemplateSpec, now_us: int
    ) -> None:
        tx.execute(
            update(member_card_templates)
            .where(member_card_templates.c.template_id == template_id)
            .values(
                card_show_name=spec.style.card_show_name,
                biz_no_prefix=spec.biz_no_prefix,
                biz_no_suffix_len=spec.biz_no_suffix_len,
                write_off_type=spec.write_off.value,
                spec=spec_json(spec),
                modified_at_us=now_us,
            )
        )

    def modification(self, tx: Connection, app_id: str, request_id: str) -> tuple[str, str] | None:
        table = member_card_template_modifications
        query = select(table.c.fingerprint, table.c.template_id).where(
            table.c.app_id == app_id, table.c.request_id == request_id
        )
        row = tx.execute(query).first()
        return (str(row[0]), str(row[1])) if row is not None else None

    def insert_modification(
        self, tx: Connection, modification: TemplateModification, now_us: int
    ) -> None:
        tx.execute(
            member_card_template_modifications.insert().values(
                app_id=modification.app_id,
                request_id=modification.request_id,
                template_id=modification.template_id,
                fingerprint=modification.fingerprint,
                created_at_us=now_us,
            )
        )

    def has_cards(self, tx: Connection, template_id: str) -> bool:
        query = select(member_cards.c.id).where(member_cards.c.template_id == template_id).limit(1)
        return tx.execute(query).first() is not None

    def levels_held(self, tx: Connection, template_id: str, levels: Sequence[str]) -> list[str]:
        if not levels:
            return []
        query = (
            select(member_cards.c.level)
            .where(
                member_cards.c.template_id == template_id,
                member_cards.c.status == CardStatus.ACTIVE.value,
                member_cards.c.level.in_(list(levels)),
            )
            .distinct()
        )
        return [str(level) for level in tx.execute(query).scalars()]

    def templates_of_merchant(self, tx: Connection, merchant_id: int, limit: int) -> list[Template]:
        assert 0 < limit <= 1000
        query = (
            select(member_card_templates)
            .where(member_card_templates.c.merchant_id == merchant_id)
            .order_by(member_card_templates.c.id.desc())
            .limit(limit)
        )
        return [_template(row) for row in tx.execute(query).mappings()]

    def active_card_counts(self, tx: Connection, template_ids: Sequence[str]) -> dict[str, int]:
        if not template_ids:
            return {}
        query = (
            select(member_cards.c.template_id, func.count())
            .where(
                member_cards.c.template_id.in_(list(template_ids)),
                member_cards.c.status == CardStatus.ACTIVE.value,
            )
            .group_by(member_cards.c.template_id)
        )
        return {template_id: int(count) for template_id, count in tx.execute(query)}

    # Cards ------------------------------------------------------------------------------------

    def _locked(self, query: Any, for_update: bool) -> Any:
        return query.with_for_update() if for_update and self.dialect == "postgresql" else query

    def card(self, tx: Connection, card_id: int, *, for_update: bool = False) -> Card | None:
        query = self._locked(select(member_cards).where(member_cards.c.id == card_id), for_update)
        row = tx.execute(query).mappings().first()
        return _card(row) if row is not None else None

    def card_by_no(
        self, tx: Connection, biz_card_no: str, *, for_update: bool = False
    ) -> Card | None:
        query = select(member_cards).where(member_cards.c.biz_card_no == biz_card_no)
        row = tx.execute(self._locked(query, for_update)).mappings().first()
        return _card(row) if row is not None else None

    def live_card(self, tx: Connection, template_id: str, user_id: int) -> Card | None:
        query = select(member_cards).where(
            member_cards.c.template_id == template_id, member_cards.c.holder_id == user_id
        )
        row = tx.execute(query).mappings().first()
        return _card(row) if row is not None else None

    def cancelled(self, tx: Connection, template_id: str, user_id: int) -> bool:
        query = (
            select(member_cards.c.id)
            .where(
                member_cards.c.template_id == template_id,
                member_cards.c.user_id == user_id,
                member_cards.c.delete_reason == DeleteReason.CANCEL.value,
            )
            .limit(1)
        )
        return tx.execute(query).first() is not None

    def biz_card_no_taken(self, tx: Connection, biz_card_no: str) -> bool:
        query = select(member_cards.c.id).where(member_cards.c.biz_card_no == biz_card_no)
        return tx.execute(query).first() is not None

    def insert_card(
        self,
        tx: Connection,
        biz_card_no: str,
        template: Template,
        request: OpenRequest,
        values: CardValues,
        now_us: int,
    ) -> int:
        assert values.open_at is not None
        valid = values.valid_until
        result = tx.execute(
            member_cards.insert()
            .values(
                biz_card_no=biz_card_no,
                template_id=template.template_id,
                app_id=template.app_id,
                merchant_id=template.merchant_id,
                user_id=request.user_id,
                holder_id=request.user_id,
                external_card_no=values.external_card_no,
                point_hundredths=values.point_hundredths or 0,
                balance_fen=values.balance_fen or 0,
                level=values.level or "",
                open_at_us=us_from_datetime(values.open_at),
                valid_until_us=us_from_datetime(valid) if valid is not None else None,
                occurred_at_us=us_from_datetime(values.open_at),
                opened_by=request.opened_by,
                status=CardStatus.ACTIVE.value,
                created_at_us=now_us,
                changed_at_us=now_us,
            )
            .returning(member_cards.c.id)
        )
        return int(result.scalar_one())

    def update_values(self, tx: Connection, card_id: int, change: CardUpdate, now_us: int) -> None:
        values: dict[str, object] = {
            "occurred_at_us": change.occurred_at_us,
            "changed_at_us": now_us,
        }
        if change.point_hundredths is not None:
            values["point_hundredths"] = change.point_hundredths
        if change.balance_fen is not None:
            values["balance_fen"] = change.balance_fen
        if change.level is not None:
            values["level"] = change.level
        tx.execute(update(member_cards).where(member_cards.c.id == card_id).values(**values))

    def mark_deleted(self, tx: Connection, card_id: int, reason: str, now_us: int) -> None:
        tx.execute(
            update(member_cards)
            .where(member_cards.c.id == card_id)
            .values(
                status=CardStatus.DELETED.value,
                holder_id=None,
                delete_reason=reason,
                changed_at_us=now_us,
            )
        )

    def cards_of(self, tx: Connection, user_id: int, limit: int) -> list[Card]:
        assert 0 < limit <= 1000
        query = (
            select(member_cards)
            .where(
                member_cards.c.user_id == user_id,
                member_cards.c.status == CardStatus.ACTIVE.value,
            )
            .order_by(member_cards.c.id.desc())
            .limit(limit)
        )
        return [_card(row) for row in tx.execute(query).mappings()]

    # Requests and history ---------------------------------------------------------------------

    def request(
        self, tx: Connection, app_id: str, kind: str, out_serial_no: str
    ) -> tuple[str, int, str] | None:
        query = select(
            member_card_requests.c.fingerprint,
            member_card_requests.c.card_id,
            member_card_requests.c.biz_serial_no,
        ).where(
            member_card_requests.c.app_id == app_id,
            member_card_requests.c.kind == kind,
            member_card_requests.c.out_serial_no == out_serial_no,
        )
        row = tx.execute(query).first()
        return (str(row[0]), int(row[1]), str(row[2])) if row is not None else None

    def insert_request(
        self,
        tx: Connection,
        app_id: str,
        kind: str,
        out_serial_no: str,
        fingerprint: str,
        card_id: int,
        biz_serial_no: str,
        now_us: int,
    ) -> None:
        tx.execute(
            member_card_requests.insert().values(
                app_id=app_id,
                kind=kind,
                out_serial_no=out_serial_no,
                fingerprint=fingerprint,
                card_id=card_id,
                biz_serial_no=biz_serial_no,
                created_at_us=now_us,
            )
        )

    def insert_change(
        self,
        tx: Connection,
        card_id: int,
        kind: str,
        key: str,
        change: CardUpdate,
        applied: bool,
        now_us: int,
    ) -> bool:
        statement = self._insert(member_card_changes).values(
            card_id=card_id,
            kind=kind,
            change_key=key,
            occurred_at_us=change.occurred_at_us,
            recorded_at_us=now_us,
            point_hundredths=change.point_hundredths,
            balance_fen=change.balance_fen,
            level=change.level,
            reason=change.reason,
            applied=applied,
        )
        # RETURNING, not rowcount: psycopg reports no row count for ON CONFLICT DO NOTHING.
        inserted = statement.on_conflict_do_nothing(
            index_elements=["card_id", "change_key"]
        ).returning(member_card_changes.c.id)
        return tx.execute(inserted).first() is not None

    def history(
        self, tx: Connection, card_id: int, before_id: int | None, limit: int
    ) -> list[Change]:
        assert 0 < limit <= 1000
        query = select(member_card_changes).where(member_card_changes.c.card_id == card_id)
        if before_id is not None:
            query = query.where(member_card_changes.c.id < before_id)
        query = query.order_by(member_card_changes.c.id.desc()).limit(limit)
        return [_change(row) for row in tx.execute(query).mappings()]
