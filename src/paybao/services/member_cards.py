"""Merchant membership cards (会员卡): templates, cards, their history (`domain/member_cards.py`).

One use case per method, each its own transaction:
- `create_template` (alipay.marketing.card.template.create): idempotent by the app's request_id;
  the same request_id with other terms is refused (`member_card_request_mismatch`); an app holds
  at most TEMPLATES_PER_APP_MAX templates;
- `modify_template` (alipay.marketing.card.template.modify): the app's own template only
  (another app's is unknown); the parts given replace the stored ones, the template row locked
  while it changes; idempotent by the app's request_id as create is (its own keys: a modify's
  request_id never answers for a create's); the card-number rule stays once a card is opened,
  a level a live card holds stays (domain/member_cards.py). `modified_at_us` is when the
  template last changed: a modify that changes nothing leaves it. Opens read the template under
  a key-share lock on PostgreSQL (what a foreign key check takes: opens never wait on each
  other), so a card is never numbered by a rule a concurrent modify is replacing (SQLite
  serialises writers). A concurrent card.update may still set a level the modify removes, as
  card.update never checks levels against the template: the level check guards the merchant's
  mistake, and such a card shows the level's bare name;
- `open_card` (alipay.marketing.card.open, and the wallet's apply link): idempotent by the app's
  out_serial_no the same way; one live card per template per user, so a second open (another
  serial, or two at once) answers the card the user already holds. The merchant may open a card
  only for a user who authorised its app (a live OAuth grant, or the auth_token the request
  carries); a user whose card of this template was cancelled (reason CANCEL) gets no new one;
- `update_card`: points, balance and level set to the merchant's new values (absolute, as
  Alipay's update takes them). Every change is appended to the card's history with the
  merchant's occur_time; the card shows the newest by occur_time, so an update that arrives
  late is kept in the history but does not overwrite a newer one. A replay (same occur_time,
  same values) adds nothing;
- `delete_card` (merchant, idempotent by out_serial_no) and `delete_by_user` (the wallet);
- reads: `template`, `card`, `cards_of`, `card_view`, `templates_of_merchant`.

The balance on a card is the merchant's own stored value: it is displayed, never paybao money.
Nothing here touches the ledger, and no journal entry is made for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from paybao.domain.errors import Conflict, Forbidden, InvalidState, LimitExceeded, NotFound
from paybao.domain.member_cards import (
    CARDS_LISTED_MAX,
    HISTORY_PAGE_SIZE,
    TEMPLATES_LISTED_MAX,
    TEMPLATES_PER_APP_MAX,
    CardStatus,
    CardValues,
    DeleteReason,
    TemplateChanges,
    TemplateSpec,
    check_biz_no,
    check_levels_kept,
    check_numbering_kept,
    fill,
    new_biz_card_no,
    new_template_id,
)
from paybao.services.clock import datetime_from_us, us_from_datetime
from paybao.services.merchants import Merchant
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserView

Lock = Literal["share", "update"] | None
BIZ_NO_TRIES_MAX = 5  # fresh numbers tried when one is taken (8+ random digits: rare)
MERCHANT = "merchant"
USER = "user"


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    template_id: str
    app_id: str
    merchant_id: int
    request_id: str
    fingerprint: str
    spec: TemplateSpec
    created_at_us: int
    modified_at_us: int | None = None  # None: never changed since it was created


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    biz_card_no: str
    template_id: str
    app_id: str
    merchant_id: int
    user_id: int
    external_card_no: str
    point_hundredths: int
    balance_fen: int  # the merchant's stored value: displayed, never paybao money
    level: str
    open_at_us: int
    valid_until_us: int | None
    occurred_at_us: int | None
    opened_by: str
    status: CardStatus
    delete_reason: str | None
    created_at_us: int
    changed_at_us: int

    @property
    def active(self) -> bool:
        return self.status is CardStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    card_id: int
    kind: str  # 'open' | 'update' | 'delete'
    occurred_at_us: int
    recorded_at_us: int
    point_hundredths: int | None
    balance_fen: int | None
    level: str | None
    reason: str
    applied: bool


@dataclass(frozen=True, slots=True)
class NewTemplate:
    app_id: str
    merchant_id: int
    request_id: str
    fingerprint: str
    spec: TemplateSpec


@dataclass(frozen=True, slots=True)
class TemplateModification:
    app_id: str
    template_id: str
    request_id: str
    fingerprint: str  # digest of the request's terms: the same request_id with others conflicts
    changes: TemplateChanges


@dataclass(frozen=True, slots=True)
class OpenRequest:
    app_id: str
    template_id: str
    user_id: int
    out_serial_no: str
    fingerprint: str
    values: CardValues
    opened_by: str = MERCHANT
    # The user's OAuth token already proved the authorisation (the request's auth_token).
    token_checked: bool = False


@dataclass(frozen=True, slots=True)
class CardUpdate:
    occurred_at_us: int
    point_hundredths: int | None = None
    balance_fen: int | None = None
    level: str | None = None
    reason: str = ""

    def key(self) -> str:
        """The change's identity: a replay of the same update has the same key."""
        terms = [self.occurred_at_us, self.point_hundredths, self.balance_fen, self.level]
        return hashlib.sha256(json.dumps(terms).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Opened:
    card: Card
    template: Template
    created: bool  # False: an earlier open (same serial, or the user's live card) answered


@dataclass(frozen=True, slots=True)
class CardView:
    card: Card
    template: Template
    merchant_name: str
    history: Sequence[Change]
    more_before_id: int | None  # the history's next page starts below this id


@dataclass(frozen=True, slots=True)
class TemplateCount:
    template: Template
    active_cards: int


class MemberCardStore(Protocol):
    def template(self, tx: Tx, template_id: str, *, lock: Lock = None) -> Template | None:
        """`lock` (PostgreSQL): "share" (FOR KEY SHARE) while a card is opened on it, "update"
        (FOR UPDATE) to change it."""
        ...

    def template_by_request(self, tx: Tx, app_id: str, request_id: str) -> Template | None: ...

    def template_count(self, tx: Tx, app_id: str) -> int: ...

    def insert_template(self, tx: Tx, template_id: str, new: NewTemplate, now_us: int) -> None: ...

    def templates_of_merchant(self, tx: Tx, merchant_id: int, limit: int) -> list[Template]: ...

    def modification(self, tx: Tx, app_id: str, request_id: str) -> tuple[str, str] | None:
        """(fingerprint, template_id) of the app's earlier modify with this request_id."""
        ...

    def insert_modification(
        self, tx: Tx, modification: TemplateModification, now_us: int
    ) -> None: ...

    def replace_spec(self, tx: Tx, template_id: str, spec: TemplateSpec, now_us: int) -> None: ...

    def has_cards(self, tx: Tx, template_id: str) -> bool:
        """Any card was ever opened on the template (deleted ones too: their numbers stand)."""
        ...

    def levels_held(self, tx: Tx, template_id: str, levels: Sequence[str]) -> list[str]:
        """Those of `levels` that a live card of the template holds."""
        ...

    def active_card_counts(self, tx: Tx, template_ids: Sequence[str]) -> dict[str, int]: ...

    def card(self, tx: Tx, card_id: int, *, for_update: bool = False) -> Card | None: ...

    def card_by_no(self, tx: Tx, biz_card_no: str, *, for_update: bool = False) -> Card | None: ...

    def live_card(self, tx: Tx, template_id: str, user_id: int) -> Card | None: ...

    def cancelled(self, tx: Tx, template_id: str, user_id: int) -> bool:
        """A card of this template was deleted with reason CANCEL for this user."""
        ...

    def biz_card_no_taken(self, tx: Tx, biz_card_no: str) -> bool: ...

    def insert_card(
        self,
        tx: Tx,
        biz_card_no: str,
        template: Template,
        request: OpenRequest,
        values: CardValues,
        now_us: int,
    ) -> int: ...

    def update_values(self, tx: Tx, card_id: int, update: CardUpdate, now_us: int) -> None: ...

    def mark_deleted(self, tx: Tx, card_id: int, reason: str, now_us: int) -> None: ...

    def cards_of(self, tx: Tx, user_id: int, limit: int) -> list[Card]: ...

    def request(
        self, tx: Tx, app_id: str, kind: str, out_serial_no: str
    ) -> tuple[str, int, str] | None:
        """(fingerprint, card id, biz_serial_no) of an earlier request with this key."""
        ...

    def insert_request(
        self,
        tx: Tx,
        app_id: str,
        kind: str,
        out_serial_no: str,
        fingerprint: str,
        card_id: int,
        biz_serial_no: str,
        now_us: int,
    ) -> None: ...

    def insert_change(
        self,
        tx: Tx,
        card_id: int,
        kind: str,
        key: str,
        update: CardUpdate,
        applied: bool,
        now_us: int,
    ) -> bool:
        """Append to the card's history; False if a change with this key is there already."""
        ...

    def history(self, tx: Tx, card_id: int, before_id: int | None, limit: int) -> list[Change]: ...


class Grants(Protocol):
    def authorized(self, user_id: int, app_id: str) -> bool:
        """The user holds a live OAuth authorisation of the app (they logged in with paybao)."""
        ...


class Users(Protocol):
    def get(self, user_id: int) -> UserView: ...


class Merchants(Protocol):
    def merchant(self, merchant_id: int) -> Merchant: ...


def _template_missing() -> NotFound:
    return NotFound("no such card template", code="member_card_template_not_found")


def _card_missing() -> NotFound:
    return NotFound("no such member card", code="member_card_not_found")


def _mismatch(key: str) -> Conflict:
    return Conflict(
        f"{key} was used before with other parameters", code="member_card_request_mismatch"
    )


@dataclass
class MemberCardService:
    db: Database
    store: MemberCardStore
    clock: Clock
    users: Users
    merchants: Merchants
    grants: Grants

    # Templates -----------------------------------------------------------------------------

    def create_template(self, new: NewTemplate) -> Template:
        check_biz_no(new.spec.biz_no_prefix, new.spec.biz_no_suffix_len)

        def work(tx: Tx) -> Template:
            earlier = self.store.template_by_request(tx, new.app_id, new.request_id)
            if earlier is not None:
                if earlier.fingerprint != new.fingerprint:
                    raise _mismatch("request_id")
                return earlier
            if self.store.template_count(tx, new.app_id) >= TEMPLATES_PER_APP_MAX:
                raise LimitExceeded(
                    f"an app holds at most {TEMPLATES_PER_APP_MAX} card templates",
                    code="member_card_templates_exceeded",
                )
            template_id = new_template_id(self.clock.now())
            self.store.insert_template(tx, template_id, new, self.clock.now_us())
            created = self.store.template(tx, template_id)
            assert created is not None
            return created

        return self.db.run(work)

    def modify_template(self, modification: TemplateModification) -> Template:
        """The template as it stands after the change (a replay: as it stands now)."""

        def work(tx: Tx) -> Template:
            earlier = self.store.modification(tx, modification.app_id, modification.request_id)
            if earlier is not None:
                if earlier[0] != modification.fingerprint:
                    raise _mismatch("request_id")
                return self._template_in(tx, earlier[1])
            found = self.store.template(tx, modification.template_id, lock="update")
            if found is None or found.app_id != modification.app_id:
                raise _template_missing()
            spec = modification.changes.applied_to(found.spec)
            now_us = self.clock.now_us()
            if spec != found.spec:
                self._check_change(tx, found, spec)
                self.store.replace_spec(tx, found.template_id, spec, now_us)
            self.store.insert_modification(tx, modification, now_us)
            return self._template_in(tx, found.template_id)

        return self.db.run(work)

    def _check_change(self, tx: Tx, template: Template, spec: TemplateSpec) -> None:
        template_id = template.template_id
        check_biz_no(spec.biz_no_prefix, spec.biz_no_suffix_len)
        check_numbering_kept(template.spec, spec, lambda: self.store.has_cards(tx, template_id))
        check_levels_kept(
            template.spec, spec, lambda levels: self.store.levels_held(tx, template_id, levels)
        )

    def template(self, template_id: str, app_id: str | None = None) -> Template:
        """The template; with `app_id`, only that app's (another app's is unknown)."""
        with self.db.read() as tx:
            found = self.store.template(tx, template_id)
        if found is None or (app_id is not None and found.app_id != app_id):
            raise _template_missing()
        return found

    def templates_of_merchant(self, merchant_id: int) -> list[TemplateCount]:
        with self.db.read() as tx:
            templates = self.store.templates_of_merchant(tx, merchant_id, TEMPLATES_LISTED_MAX)
            counts = self.store.active_card_counts(tx, [t.template_id for t in templates])
        return [TemplateCount(t, counts.get(t.template_id, 0)) for t in templates]

    # Cards ---------------------------------------------------------------------------------

    def open_card(self, request: OpenRequest) -> Opened:
        user = self.users.get(request.user_id)  # NotFound user_not_found
        if user.status != "active" or user.step != "active":
            raise Forbidden("the account is frozen", code="account_frozen")
        if (
            request.opened_by == MERCHANT
            and not request.token_checked
            and not self.grants.authorized(request.user_id, request.app_id)
        ):
            raise Forbidden(
                "the user has not authorised this app", code="member_card_not_authorized"
            )
        return self.db.run(lambda tx: self._open_in(tx, request))

    def _open_in(self, tx: Tx, request: OpenRequest) -> Opened:
        now_us = self.clock.now_us()
        # The wallet's applies have no serial of the merchant's: the live card answers them.
        by_merchant = request.opened_by == MERCHANT
        earlier = (
            self.store.request(tx, request.app_id, "open", request.out_serial_no)
            if by_merchant
            else None
        )
        if earlier is not None:
            fingerprint, card_id, _ = earlier
            if fingerprint != request.fingerprint:
                raise _mismatch("out_serial_no")
            card = self.store.card(tx, card_id)
            assert card is not None
            return Opened(card, self._template_in(tx, card.template_id), created=False)
        # Key-shared: opens go side by side, a modify of the template waits for them (and they
        # for it), so no card takes a number rule the modify is replacing.
        template = self.store.template(tx, request.template_id, lock="share")
        if template is None or (
            request.opened_by == MERCHANT and template.app_id != request.app_id
        ):
            raise _template_missing()
        live = self.store.live_card(tx, template.template_id, request.user_id)
        if live is not None:
            self._remember(tx, request, live.id, now_us)
            return Opened(live, template, created=False)
        if self.store.cancelled(tx, template.template_id, request.user_id):
            raise InvalidState(
                "the user's card of this template was cancelled", code="member_card_cancelled"
            )
        values = fill(template.spec.field_rules, request.values, datetime_from_us(now_us))
        asked = CardValues(
            point_hundredths=values.point_hundredths,
            balance_fen=values.balance_fen,
            level=values.level,
            open_at=values.open_at,
            valid_until=values.valid_until,
            external_card_no=values.external_card_no,
        )
        card_id = self.store.insert_card(
            tx, self._free_biz_card_no(tx, template), template, request, asked, now_us
        )
        opened_at_us = us_from_datetime(values.open_at)
        first = CardUpdate(
            occurred_at_us=opened_at_us,
            point_hundredths=values.point_hundredths,
            balance_fen=values.balance_fen,
            level=values.level,
        )
        self.store.insert_change(tx, card_id, "open", first.key(), first, True, now_us)
        self._remember(tx, request, card_id, now_us)
        card = self.store.card(tx, card_id)
        assert card is not None
        return Opened(card, template, created=True)

    def _remember(self, tx: Tx, request: OpenRequest, card_id: int, now_us: int) -> None:
        if request.opened_by != MERCHANT:
            return
        self.store.insert_request(
            tx,
            request.app_id,
            "open",
            request.out_serial_no,
            request.fingerprint,
            card_id,
            "",
            now_us,
        )

    def _free_biz_card_no(self, tx: Tx, template: Template) -> str:
        spec = template.spec
        for _ in range(BIZ_NO_TRIES_MAX):
            number = new_biz_card_no(spec.biz_no_prefix, spec.biz_no_suffix_len)
            if not self.store.biz_card_no_taken(tx, number):
                return number
        raise LimitExceeded("no free card number; retry", code="member_card_numbers_exhausted")

    def _template_in(self, tx: Tx, template_id: str) -> Template:
        template = self.store.template(tx, template_id)
        assert template is not None, "a card's template is never deleted"
        return template

    def card(self, app_id: str, biz_card_no: str, user_id: int | None = None) -> Opened:
        """The app's card by number (alipay.marketing.card.query); `user_id`: also its holder's."""
        with self.db.read() as tx:
            card = self.store.card_by_no(tx, biz_card_no)
            if card is None or card.app_id != app_id:
                raise _card_missing()
            if user_id is not None and card.user_id != user_id:
                raise _card_missing()
            return Opened(card, self._template_in(tx, card.template_id), created=False)

    def update_card(self, app_id: str, biz_card_no: str, update: CardUpdate) -> Card:
        def work(tx: Tx) -> Card:
            now_us = self.clock.now_us()
            card = self.store.card_by_no(tx, biz_card_no, for_update=True)
            if card is None or card.app_id != app_id or not card.active:
                raise _card_missing()
            newest = card.occurred_at_us is None or update.occurred_at_us >= card.occurred_at_us
            added = self.store.insert_change(
                tx, card.id, "update", update.key(), update, newest, now_us
            )
            if added and newest:
                self.store.update_values(tx, card.id, update, now_us)
            changed = self.store.card(tx, card.id)
            assert changed is not None
            return changed

        return self.db.run(work)

    def delete_card(
        self,
        app_id: str,
        biz_card_no: str,
        out_serial_no: str,
        reason: DeleteReason,
        fingerprint: str,
    ) -> str:
        """The merchant deletes a card: Alipay's biz_serial_no of the deletion."""

        def work(tx: Tx) -> str:
            now_us = self.clock.now_us()
            earlier = self.store.request(tx, app_id, "delete", out_serial_no)
            if earlier is not None:
                if earlier[0] != fingerprint:
                    raise _mismatch("out_serial_no")
                return earlier[2]
            card = self.store.card_by_no(tx, biz_card_no, for_update=True)
            if card is None or card.app_id != app_id or not card.active:
                raise _card_missing()
            serial = self._delete_in(tx, card, reason, now_us)
            self.store.insert_request(
                tx, app_id, "delete", out_serial_no, fingerprint, card.id, serial, now_us
            )
            return serial

        return self.db.run(work)

    def _delete_in(self, tx: Tx, card: Card, reason: DeleteReason, now_us: int) -> str:
        self.store.mark_deleted(tx, card.id, reason.value, now_us)
        gone = CardUpdate(occurred_at_us=now_us, reason=reason.value)
        self.store.insert_change(tx, card.id, "delete", gone.key(), gone, True, now_us)
        return f"{datetime_from_us(now_us):%Y%m%d}{card.id:016d}"

    # The wallet ----------------------------------------------------------------------------

    def apply(self, user_id: int, template_id: str) -> Opened:
        """The user opens a card from the template's link (no OAuth needed: it is their act)."""
        with self.db.read() as tx:
            template = self.store.template(tx, template_id)
        # A disabled merchant's link offers nothing (its cards already held stay shown).
        if template is None or self.merchants.merchant(template.merchant_id).status != "active":
            raise _template_missing()
        serial = f"wallet-{user_id}-{template_id}"
        return self.open_card(
            OpenRequest(
                app_id=template.app_id,
                template_id=template_id,
                user_id=user_id,
                out_serial_no=serial[:64],
                fingerprint=hashlib.sha256(serial.encode()).hexdigest()[:32],
                values=CardValues(),
                opened_by=USER,
            )
        )

    def cards_of(self, user_id: int) -> list[Opened]:
        with self.db.read() as tx:
            cards = self.store.cards_of(tx, user_id, CARDS_LISTED_MAX)
            return [Opened(c, self._template_in(tx, c.template_id), False) for c in cards]

    def user_card(self, user_id: int, card_id: int) -> Card:
        """The user's own live card (its code images need no history)."""
        with self.db.read() as tx:
            card = self.store.card(tx, card_id)
        if card is None or card.user_id != user_id or not card.active:
            raise _card_missing()
        return card

    def card_view(self, user_id: int, card_id: int, before_id: int | None = None) -> CardView:
        """The user's own live card with a page of its history (newest first)."""
        with self.db.read() as tx:
            card = self.store.card(tx, card_id)
            if card is None or card.user_id != user_id or not card.active:
                raise _card_missing()
            template = self._template_in(tx, card.template_id)
            rows = self.store.history(tx, card.id, before_id, HISTORY_PAGE_SIZE + 1)
        page = rows[:HISTORY_PAGE_SIZE]
        more = page[-1].id if len(rows) > HISTORY_PAGE_SIZE else None
        return CardView(card, template, self._merchant_name(card.merchant_id), page, more)

    def delete_by_user(self, user_id: int, card_id: int) -> None:
        def work(tx: Tx) -> None:
            card = self.store.card(tx, card_id, for_update=True)
            if card is None or card.user_id != user_id or not card.active:
                raise _card_missing()
            self._delete_in(tx, card, DeleteReason.USER_DELETED, self.clock.now_us())

        self.db.run(work)

    def _merchant_name(self, merchant_id: int) -> str:
        try:
            return self.merchants.merchant(merchant_id).name
        except NotFound:
            return ""
