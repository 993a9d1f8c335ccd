"""Membership cards: the pure rules (card numbers, points, colours, field rules, dates) and
MemberCardService on in-memory fakes of its ports (store, database, users, merchants, OAuth
grants): idempotency by request_id / out_serial_no, one live card per template per user, the
authorisation a merchant's open needs, updates ordered by the merchant's occur_time, deletion
and the CANCEL rule, the wallet's apply and history pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase, FakeTx

from paybao.domain.errors import DomainError, Retryable
from paybao.domain.member_cards import (
    HISTORY_PAGE_SIZE,
    TEMPLATES_PER_APP_MAX,
    CardStatus,
    CardValues,
    DeleteReason,
    FieldName,
    FieldRule,
    RuleName,
    TemplateSpec,
    TemplateStyle,
    WriteOff,
    add_months,
    check_biz_no,
    check_color,
    check_field_rules,
    code_value,
    fill,
    format_point,
    new_biz_card_no,
    new_template_id,
    parse_point,
)
from paybao.services.clock import ManualClock, us_from_datetime
from paybao.services.member_cards import (
    Card,
    CardUpdate,
    Change,
    MemberCardService,
    NewTemplate,
    OpenRequest,
    Template,
)
from paybao.services.merchants import Merchant
from paybao.services.users import UserView

APP, OTHER_APP = "2021000000000001", "2021000000000002"
ALICE, BOB, FROZEN = 11, 12, 13
NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def code_of(error: pytest.ExceptionInfo[DomainError]) -> str:
    return error.value.code


# Pure rules ---------------------------------------------------------------------------------


def test_card_numbers_are_the_prefix_and_random_digits_within_32() -> None:
    number = new_biz_card_no("VIP", 10)
    assert number.startswith("VIP") and number[3:].isdigit() and len(number) == 13
    check_biz_no("", 32)
    for prefix, suffix in (("A" * 25, 8), ("AB", 7), ("AB", 33), ("A" * 20, 13), ("a-b", 8)):
        with pytest.raises(DomainError):
            check_biz_no(prefix, suffix)
    assert len(new_template_id(NOW)) == 32 and new_template_id(NOW).startswith("20260131")


def test_points_keep_two_decimals_as_hundredths() -> None:
    assert (parse_point("120"), parse_point("0.5"), parse_point("12.34")) == (12000, 50, 1234)
    assert (format_point(12000), format_point(1250), format_point(5)) == ("120", "12.50", "0.05")
    for bad in ("", "-1", "1.234", "1e3", "abc", "1" * 13):
        with pytest.raises(DomainError):
            parse_point(bad)


def test_colours_are_alipays_rgb_or_hex_and_nothing_else() -> None:
    assert check_color("rgb(55, 112, 179)") == "rgb(55,112,179)"
    assert check_color("#A0b1C2") == "#A0b1C2"
    assert check_color("") == ""
    for bad in ("rgb(256,0,0)", "red", "#fff", "rgb(1,2,3);background:url(x)", "expression()"):
        with pytest.raises(DomainError):
            check_color(bad)


def test_field_rules_fill_a_new_cards_fields() -> None:
    rules = check_field_rules(
        [
            FieldRule(FieldName.VALID_DATE, RuleName.DATE_IN_FUTURE, "1m"),
            FieldRule(FieldName.LEVEL, RuleName.CONST, "SILVER"),
            FieldRule(FieldName.POINT, RuleName.ASSIGN_FROM_REQUEST, "Point"),
        ]
    )
    asked = CardValues(point_hundredths=700, level="GOLD", balance_fen=99, external_card_no="E")
    filled = fill(rules, asked, NOW)
    assert filled.valid_until == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)  # Jan 31 + 1 month
    assert (filled.level, filled.point_hundredths, filled.balance_fen) == ("SILVER", 700, 99)
    assert filled.open_at == NOW and filled.external_card_no == "E"
    assert fill((), CardValues(), NOW).point_hundredths == 0
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1).day == 29
    assert add_months(datetime(2024, 11, 15, tzinfo=UTC), 14) == datetime(2026, 1, 15, tzinfo=UTC)
    bad_rules = [
        [FieldRule(FieldName.POINT, RuleName.DATE_IN_FUTURE, "1m")],
        [FieldRule(FieldName.OPEN_DATE, RuleName.DATE_IN_FUTURE, "1y")],
        [FieldRule(FieldName.VALID_DATE, RuleName.DATE_IN_FUTURE, "99999m")],
        [FieldRule(FieldName.POINT, RuleName.CONST, "x")],
        [
            FieldRule(FieldName.LEVEL, RuleName.CONST, "A"),
            FieldRule(FieldName.LEVEL, RuleName.CONST, "B"),
        ],
    ]
    for bad in bad_rules:
        with pytest.raises(DomainError):
            check_field_rules(bad)


def test_the_code_shows_the_merchants_number_when_it_gave_one() -> None:
    assert code_value("8800001", "EXT-1") == "EXT-1"
    assert code_value("8800001", "") == "8800001"


# Fakes of the ports ---------------------------------------------------------------------------


def _tables(tx: FakeTx) -> dict[str, Any]:
    return tx.state.setdefault(
        "member_cards",
        {"templates": {}, "cards": {}, "requests": {}, "changes": [], "next_id": 1},
    )


def _next_id(tables: dict[str, Any]) -> int:
    tables["next_id"] += 1
    return int(tables["next_id"]) - 1


class FakeMemberCardStore:
    """The SQL store's behaviour, unique constraints included (a violation is Retryable, as
    SqlDatabase.run reports a lost unique race)."""

    def template(self, tx: FakeTx, template_id: str, *, lock: Any = None) -> Template | None:
        found: Template | None = _tables(tx)["templates"].get(template_id)
        return found

    def template_by_request(self, tx: FakeTx, app_id: str, request_id: str) -> Template | None:
        for template in _tables(tx)["templates"].values():
            if (template.app_id, template.request_id) == (app_id, request_id):
                return template  # type: ignore[no-any-return]
        return None

    def template_count(self, tx: FakeTx, app_id: str) -> int:
        return sum(t.app_id == app_id for t in _tables(tx)["templates"].values())

    def insert_template(self, tx: FakeTx, template_id: str, new: NewTemplate, now_us: int) -> None:
        tables = _tables(tx)
        if template_id in tables["templates"] or self.template_by_request(
            tx, new.app_id, new.request_id
        ):
            raise Retryable("unique")
        tables["templates"][template_id] = Template(
            _next_id(tables), template_id, new.app_id, new.merchant_id, new.request_id,
            new.fingerprint, new.spec, now_us,
        )  # fmt: skip

    def templates_of_merchant(self, tx: FakeTx, merchant_id: int, limit: int) -> list[Template]:
        found = [t for t in _tables(tx)["templates"].values() if t.merchant_id == merchant_id]
        return sorted(found, key=lambda t: -t.id)[:limit]

    def active_card_counts(self, tx: FakeTx, template_ids: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for card in _tables(tx)["cards"].values():
            if card.template_id in template_ids and card.active:
                counts[card.template_id] = counts.get(card.template_id, 0) + 1
        return counts

    def card(self, tx: FakeTx, card_id: int, *, for_update: bool = False) -> Card | None:
        found: Card | None = _tables(tx)["cards"].get(card_id)
        return found

    def card_by_no(self, tx: FakeTx, biz_card_no: str, *, for_update: bool = False) -> Card | None:
        for card in _tables(tx)["cards"].values():
            if card.biz_card_no == biz_card_no:
                return card  # type: ignore[no-any-return]
        return None

    def live_card(self, tx: FakeTx, template_id: str, user_id: int) -> Card | None:
        for card in _tables(tx)["cards"].values():
            if (card.template_id, card.user_id, card.active) == (template_id, user_id, True):
                return card  # type: ignore[no-any-return]
        return None

    def cancelled(self, tx: FakeTx, template_id: str, user_id: int) -> bool:
        return any(
            (c.template_id, c.user_id, c.delete_reason) == (template_id, user_id, "CANCEL")
            for c in _tables(tx)["cards"].values()
        )

    def biz_card_no_taken(self, tx: FakeTx, biz_card_no: str) -> bool:
        return self.card_by_no(tx, biz_card_no) is not None

    def insert_card(
        self,
        tx: FakeTx,
        biz_card_no: str,
        template: Template,
        request: OpenRequest,
        values: CardValues,
        now_us: int,
    ) -> int:
        if self.live_card(tx, template.template_id, request.user_id) or self.biz_card_no_taken(
            tx, biz_card_no
        ):
            raise Retryable("unique")
        tables = _tables(tx)
        card_id = _next_id(tables)
        assert values.open_at is not None
        open_us = us_from_datetime(values.open_at)
        valid = values.valid_until
        tables["cards"][card_id] = Card(
            card_id, biz_card_no, template.template_id, template.app_id, template.merchant_id,
            request.user_id, values.external_card_no, values.point_hundredths or 0,
            values.balance_fen or 0, values.level or "", open_us,
            us_from_datetime(valid) if valid else None, open_us, request.opened_by,
            CardStatus.ACTIVE, None, now_us, now_us,
        )  # fmt: skip
        return card_id

    def update_values(self, tx: FakeTx, card_id: int, update: CardUpdate, now_us: int) -> None:
        cards = _tables(tx)["cards"]
        card = cards[card_id]
        cards[card_id] = replace(
            card,
            point_hundredths=card.point_hundredths
            if update.point_hundredths is None
            else update.point_hundredths,
            balance_fen=card.balance_fen if update.balance_fen is None else update.balance_fen,
            level=card.level if update.level is None else update.level,
            occurred_at_us=update.occurred_at_us,
            changed_at_us=now_us,
        )

    def mark_deleted(self, tx: FakeTx, card_id: int, reason: str, now_us: int) -> None:
        cards = _tables(tx)["cards"]
        cards[card_id] = replace(
            cards[card_id], status=CardStatus.DELETED, delete_reason=reason, changed_at_us=now_us
        )

    def cards_of(self, tx: FakeTx, user_id: int, limit: int) -> list[Card]:
        found = [c for c in _tables(tx)["cards"].values() if c.user_id == user_id and c.active]
        return sorted(found, key=lambda c: -c.id)[:limit]

    def request(
        self, tx: FakeTx, app_id: str, kind: str, out_serial_no: str
    ) -> tuple[str, int, str] | None:
        found: tuple[str, int, str] | None = _tables(tx)["requests"].get(
            (app_id, kind, out_serial_no)
        )
        return found

    def insert_request(
        self,
        tx: FakeTx,
        app_id: str,
        kind: str,
        out_serial_no: str,
        fingerprint: str,
        card_id: int,
        biz_serial_no: str,
        now_us: int,
    ) -> None:
        requests = _tables(tx)["requests"]
        if (app_id, kind, out_serial_no) in requests:
            raise Retryable("unique")
        requests[(app_id, kind, out_serial_no)] = (fingerprint, card_id, biz_serial_no)

    def insert_change(
        self,
        tx: FakeTx,
        card_id: int,
        kind: str,
        key: str,
        update: CardUpdate,
        applied: bool,
        now_us: int,
    ) -> bool:
        tables = _tables(tx)
        if any((c[0].card_id, c[1]) == (card_id, key) for c in tables["changes"]):
            return False
        change = Change(
            _next_id(tables), card_id, kind, update.occurred_at_us, now_us,
            update.point_hundredths, update.balance_fen, update.level, update.reason, applied,
        )  # fmt: skip
        tables["changes"].append((change, key))
        return True

    def history(self, tx: FakeTx, card_id: int, before_id: int | None, limit: int) -> list[Change]:
        rows = [c for c, _ in _tables(tx)["changes"] if c.card_id == card_id]
        rows = [c for c in rows if before_id is None or c.id < before_id]
        return sorted(rows, key=lambda c: -c.id)[:limit]


@dataclass
class Users:
    def get(self, user_id: int) -> UserView:
        if user_id > 100:
            from paybao.domain.errors import NotFound

            raise NotFound("no such user", code="user_not_found")
        status = "frozen" if user_id == FROZEN else "active"
        return UserView(user_id, "138****0000", "*三", status, "III", 1)


@dataclass
class Merchants:
    disabled: set[int] = field(default_factory=set)

    def merchant(self, merchant_id: int) -> Merchant:
        status = "disabled" if merchant_id in self.disabled else "active"
        return Merchant(merchant_id, f"商户{merchant_id}", None, 0, 0, None, status, 0)


@dataclass
class Grants:
    pairs: set[tuple[int, str]] = field(default_factory=lambda: {(ALICE, APP)})

    def authorized(self, user_id: int, app_id: str) -> bool:
        return (user_id, app_id) in self.pairs


@dataclass
class World:
    cards: MemberCardService
    clock: ManualClock
    grants: Grants
    merchants: Merchants


@pytest.fixture
def world() -> World:
    clock = ManualClock(us_from_datetime(NOW))
    grants, merchants = Grants(), Merchants()
    service = MemberCardService(
        db=FakeDatabase(),
        store=FakeMemberCardStore(),
        clock=clock,
        users=Users(),
        merchants=merchants,
        grants=grants,
    )
    return World(service, clock, grants, merchants)


def spec(**extra: Any) -> TemplateSpec:
    return TemplateSpec(
        biz_no_prefix="88",
        biz_no_suffix_len=8,
        write_off=WriteOff.QRCODE,
        style=TemplateStyle("会员卡", "logo", "bg"),
        **extra,
    )


def template(world: World, request_id: str = "r1", app_id: str = APP, **extra: Any) -> Template:
    new = NewTemplate(app_id, 1, request_id, f"fp-{request_id}", spec(**extra))
    return world.cards.create_template(new)


def opening(
    template_id: str, serial: str = "s1", user_id: int = ALICE, **extra: Any
) -> OpenRequest:
    return OpenRequest(
        app_id=APP,
        template_id=template_id,
        user_id=user_id,
        out_serial_no=serial,
        fingerprint=f"fp-{serial}",
        values=CardValues(point_hundredths=100, balance_fen=5_00),
        **extra,
    )


# The service -----------------------------------------------------------------------------------


def test_a_template_request_id_answers_once_and_refuses_other_terms(world: World) -> None:
    first = template(world)
    assert template(world).template_id == first.template_id
    with pytest.raises(DomainError) as error:
        world.cards.create_template(NewTemplate(APP, 1, "r1", "other", spec()))
    assert code_of(error) == "member_card_request_mismatch"
    assert template(world, app_id=OTHER_APP).template_id != first.template_id  # per app
    with pytest.raises(DomainError) as error:
        world.cards.template(first.template_id, OTHER_APP)
    assert code_of(error) == "member_card_template_not_found"


def test_an_app_holds_a_bounded_number_of_templates(world: World) -> None:
    for index in range(TEMPLATES_PER_APP_MAX):
        template(world, f"r{index}")
    with pytest.raises(DomainError) as error:
        template(world, "one-more")
    assert code_of(error) == "member_card_templates_exceeded"


def test_a_merchant_opens_cards_only_for_users_who_authorised_its_app(world: World) -> None:
    tpl = template(world)
    with pytest.raises(DomainError) as error:
        world.cards.open_card(opening(tpl.template_id, user_id=BOB))
    assert code_of(error) == "member_card_not_authorized"
    opened = world.cards.open_card(opening(tpl.template_id, user_id=BOB, token_checked=True))
    assert opened.created and opened.card.user_id == BOB  # the auth_token stood for it
    world.grants.pairs.add((FROZEN, APP))
    with pytest.raises(DomainError) as error:
        world.cards.open_card(opening(tpl.template_id, "s2", user_id=FROZEN))
    assert code_of(error) == "account_frozen"
    with pytest.raises(DomainError) as error:
        world.cards.open_card(opening(tpl.template_id, "s3", user_id=404))
    assert code_of(error) == "user_not_found"
    other = template(world, "r9", app_id=OTHER_APP)
    with pytest.raises(DomainError) as error:
        world.cards.open_card(opening(other.template_id, "s4"))
    assert code_of(error) == "member_card_template_not_found"


def test_opens_are_idempotent_and_one_card_per_template_per_user(world: World) -> None:
    tpl = template(world, field_rules=(FieldRule(FieldName.LEVEL, RuleName.CONST, "NEW"),))
    first = world.cards.open_card(opening(tpl.template_id))
    assert first.created and first.card.biz_card_no.startswith("88")
    assert (first.card.point_hundredths, first.card.balance_fen) == (100, 5_00)
    assert first.card.level == "NEW"  # the template's CONST rule
    replay = world.cards.open_card(opening(tpl.template_id))
    assert (replay.created, replay.card) == (False, first.card)
    with pytest.raises(DomainError) as error:
        world.cards.open_card(replace(opening(tpl.template_id), fingerprint="changed"))
    assert code_of(error) == "member_card_request_mismatch"
    second = world.cards.open_card(opening(tpl.template_id, "s2"))
    assert (second.created, second.card.id) == (False, first.card.id)
    applied = world.cards.apply(ALICE, tpl.template_id)  # from the wallet, the same card
    assert applied.card.id == first.card.id
    assert len(world.cards.cards_of(ALICE)) == 1


def test_updates_follow_the_merchants_occur_time_and_replays_add_nothing(world: World) -> None:
    tpl = template(world)
    card = world.cards.open_card(opening(tpl.template_id)).card
    later = us_from_datetime(datetime(2026, 3, 1, tzinfo=UTC))
    update = CardUpdate(occurred_at_us=later, point_hundredths=900, level="GOLD", reason="消费")
    assert world.cards.update_card(APP, card.biz_card_no, update).point_hundredths == 900
    world.cards.update_card(APP, card.biz_card_no, update)  # a replay
    stale = CardUpdate(occurred_at_us=later - 1, point_hundredths=1, balance_fen=0)
    kept = world.cards.update_card(APP, card.biz_card_no, stale)
    assert (kept.point_hundredths, kept.balance_fen, kept.level) == (900, 5_00, "GOLD")
    history = world.cards.card_view(ALICE, card.id).history
    assert [(c.kind, c.applied, c.point_hundredths) for c in history] == [
        ("update", False, 1),
        ("update", True, 900),
        ("open", True, 100),
    ]
    assert history[1].reason == "消费"
    with pytest.raises(DomainError) as error:
        world.cards.update_card(OTHER_APP, card.biz_card_no, update)
    assert code_of(error) == "member_card_not_found"


def test_history_pages_newest_first(world: World) -> None:
    tpl = template(world)
    card = world.cards.open_card(opening(tpl.template_id)).card
    for step in range(HISTORY_PAGE_SIZE + 5):
        change = CardUpdate(occurred_at_us=card.open_at_us + step + 1, point_hundredths=step)
        world.cards.update_card(APP, card.biz_card_no, change)
    first = world.cards.card_view(ALICE, card.id)
    assert len(first.history) == HISTORY_PAGE_SIZE and first.more_before_id is not None
    rest = world.cards.card_view(ALICE, card.id, first.more_before_id)
    assert len(rest.history) == 6 and rest.more_before_id is None  # 5 updates and the open
    assert first.merchant_name == "商户1"
    with pytest.raises(DomainError) as error:
        world.cards.card_view(BOB, card.id)
    assert code_of(error) == "member_card_not_found"


def test_deleting_a_card_and_the_cancel_rule(world: World) -> None:
    tpl = template(world)
    card = world.cards.open_card(opening(tpl.template_id)).card
    serial = world.cards.delete_card(APP, card.biz_card_no, "d1", DeleteReason.USER_UNBUND, "f")
    assert world.cards.delete_card(APP, card.biz_card_no, "d1", DeleteReason.USER_UNBUND, "f") == (
        serial
    )
    with pytest.raises(DomainError) as error:
        world.cards.delete_card(APP, card.biz_card_no, "d1", DeleteReason.CANCEL, "g")
    assert code_of(error) == "member_card_request_mismatch"
    again = world.cards.open_card(opening(tpl.template_id, "s2")).card  # unbound: may rejoin
    assert again.id != card.id and again.biz_card_no != card.biz_card_no
    world.cards.delete_card(APP, again.biz_card_no, "d2", DeleteReason.CANCEL, "f")
    with pytest.raises(DomainError) as error:
        world.cards.open_card(opening(tpl.template_id, "s3"))
    assert code_of(error) == "member_card_cancelled"
    with pytest.raises(DomainError) as error:
        world.cards.apply(ALICE, tpl.template_id)
    assert code_of(error) == "member_card_cancelled"


def test_the_wallet_applies_without_oauth_and_deletes_its_own_card(world: World) -> None:
    tpl = template(world)
    opened = world.cards.apply(BOB, tpl.template_id)  # BOB never authorised the app
    assert opened.created and opened.card.opened_by == "user"
    with pytest.raises(DomainError) as error:
        world.cards.delete_by_user(ALICE, opened.card.id)
    assert code_of(error) == "member_card_not_found"
    world.cards.delete_by_user(BOB, opened.card.id)
    assert world.cards.cards_of(BOB) == []
    reopened = world.cards.apply(BOB, tpl.template_id)  # deleted by the user: may take it again
    assert reopened.created and reopened.card.id != opened.card.id
    (count,) = world.cards.templates_of_merchant(1)
    assert (count.template.template_id, count.active_cards) == (tpl.template_id, 1)


def test_a_disabled_merchants_link_offers_no_card(world: World) -> None:
    tpl = template(world)
    held = world.cards.apply(ALICE, tpl.template_id).card
    world.merchants.disabled.add(1)
    with pytest.raises(DomainError) as error:
        world.cards.apply(BOB, tpl.template_id)
    assert code_of(error) == "member_card_template_not_found"
    assert world.cards.user_card(ALICE, held.id) == held  # cards held stay
    with pytest.raises(DomainError):
        world.cards.user_card(BOB, held.id)
