"""Dynamic write-off codes of membership cards (domain/member_card_codes.py): issuing them to
the card's holder, and finding the card a scanned one names.

- `issue` (the wallet's card page, asking again before each code runs out): the user's own live
  card whose template is dynamic now (dqrcode / dbarcode; a static one shows its number and
  gets no code: `member_card_code_static`). In one transaction, the card row locked on
  PostgreSQL (SQLite serialises writers) so two pages of one card never pass the caps
  together: the card's expired codes are dropped, then all but the newest
  DYNAMIC_CODES_LIVE_PER_CARD_MAX - 1, then the new code is stored as its digest. A card gets
  at most one code per DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN (`member_card_code_too_soon`, with
  `retry_after_s`). The answer holds the code itself, the only time it exists in the clear.
- `card_of` (alipay.marketing.card.query with D_QR_CODE / D_BAR_CODE): the card a live code
  names, for the card's own app, while the card is live and its template still dynamic; any
  other case (unknown, expired, retired, another app's, a deleted card, a template switched to
  static, a code of another shape) is the same `member_card_not_found`, so the answer tells a
  guesser nothing. A code answers as often as asked within its minute: a till may query, then
  query again after updating the card.

Time is the platform's Clock: the sandbox's test clock expires codes as it jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import InvalidState, LimitExceeded, NotFound
from paybao.domain.member_card_codes import (
    DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN,
    DYNAMIC_CODE_TTL_S,
    DYNAMIC_CODES_LIVE_PER_CARD_MAX,
    code_digest,
    looks_like_dynamic_code,
    new_dynamic_code,
)
from paybao.services.clock import US_PER_S
from paybao.services.member_cards import Card, MemberCardStore, Opened, Template
from paybao.services.ports import Clock, Database, Tx


@dataclass(frozen=True, slots=True)
class StoredCode:
    id: int
    card_id: int
    issued_at_us: int
    expires_at_us: int


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str  # in the clear: only in this answer, the database keeps its digest
    card_id: int
    expires_at_us: int
    expires_in_s: int  # what a page counts down with its own clock (never the server's time)
    barcode: bool  # dbarcode: the page draws a Code128 barcode too


class CardCodeStore(Protocol):
    def codes_of(self, tx: Tx, card_id: int) -> list[StoredCode]:
        """The card's stored codes, newest first (a few at most)."""
        ...

    def delete_codes(self, tx: Tx, code_ids: list[int]) -> None: ...

    def insert_code(
        self, tx: Tx, digest: str, card_id: int, issued_at_us: int, expires_at_us: int
    ) -> None: ...

    def code_by_digest(self, tx: Tx, digest: str) -> StoredCode | None: ...


def _card_missing() -> NotFound:
    return NotFound("no such member card", code="member_card_not_found")


class TooSoon(LimitExceeded):
    code = "member_card_code_too_soon"


@dataclass
class MemberCardCodes:
    db: Database
    cards: MemberCardStore
    codes: CardCodeStore
    clock: Clock

    def issue(self, user_id: int, card_id: int) -> IssuedCode:
        """A fresh code for the user's own dynamic card (module docstring)."""
        return self.db.run(lambda tx: self._issue_in(tx, user_id, card_id))

    def _issue_in(self, tx: Tx, user_id: int, card_id: int) -> IssuedCode:
        card = self.cards.card(tx, card_id, for_update=True)
        if card is None or card.user_id != user_id or not card.active:
            raise _card_missing()
        template = self._template_in(tx, card)
        write_off = template.spec.write_off
        if not write_off.dynamic:
            raise InvalidState(
                "this card shows its number: its template has no dynamic code",
                code="member_card_code_static",
            )
        now_us = self.clock.now_us()
        self._make_room(tx, card.id, now_us)
        code = new_dynamic_code()
        expires_at_us = now_us + DYNAMIC_CODE_TTL_S * US_PER_S
        self.codes.insert_code(tx, code_digest(code), card.id, now_us, expires_at_us)
        return IssuedCode(code, card.id, expires_at_us, DYNAMIC_CODE_TTL_S, write_off.barcode)

    def _make_room(self, tx: Tx, card_id: int, now_us: int) -> None:
        """Refuse a code asked for too soon; drop expired codes and those past the cap."""
        stored = self.codes.codes_of(tx, card_id)
        interval_us = DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN * US_PER_S
        if stored and now_us - stored[0].issued_at_us < interval_us:
            wait_us = stored[0].issued_at_us + interval_us - now_us
            raise TooSoon(
                "a new code was issued a moment ago",
                retry_after_s=-(-wait_us // US_PER_S),
            )
        live = [code for code in stored if code.expires_at_us > now_us]
        kept = {code.id for code in live[: DYNAMIC_CODES_LIVE_PER_CARD_MAX - 1]}
        gone = [code.id for code in stored if code.id not in kept]
        if gone:
            self.codes.delete_codes(tx, gone)

    def card_of(self, app_id: str, code: str, user_id: int | None = None) -> Opened:
        """The app's live card a live code names; `user_id`: also its holder's."""
        if not looks_like_dynamic_code(code):
            raise _card_missing()
        with self.db.read() as tx:
            stored = self.codes.code_by_digest(tx, code_digest(code))
            if stored is None or stored.expires_at_us <= self.clock.now_us():
                raise _card_missing()
            card = self.cards.card(tx, stored.card_id)
            if card is None or card.app_id != app_id or not card.active:
                raise _card_missing()
            if user_id is not None and card.user_id != user_id:
                raise _card_missing()
            template = self._template_in(tx, card)
        if not template.spec.write_off.dynamic:
            raise _card_missing()  # switched to a static code: the card shows its number now
        return Opened(card, template, created=False)

    def _template_in(self, tx: Tx, card: Card) -> Template:
        template = self.cards.template(tx, card.template_id)
        assert template is not None, "a card's template is never deleted"
        return template
