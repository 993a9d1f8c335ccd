"""Marketing: coupon templates, claiming and issuing coupons, and coupons paying for trades.

One write path per change, each in one transaction:

* `create_template` / `stop_template`: by an operator (platform-funded, audited with the
  operator) or by a merchant (merchant-funded, limited to itself, audited as `merchant:<id>`);
* `claim`: the template's count and budget are reserved by one conditional update (two users
  claiming the last coupon: exactly one gets it), and the user's n-th coupon of the template is
  a unique key (claim twice at once: the cap holds);
* `issue_after_payment`: the payment-success page's gift, at most one per trade (unique key);
* `quote_in` / `redeem_in` (the trade payment path's `TradeDiscounts`, services/trades.py):
  price the chosen or the best coupons, then mark them used by the trade in the payment's own
  transaction (a coupon raced by two payments pays for one of them).

The money side is the trade's: the platform-funded discount moves from the platform's marketing
account in the payment's journal (services/trades.py), its pro-rata share comes back with each
refund (services/refunds.py). Coupons are never given back.

Escrow payments (services/escrow.py) use the same pricing and redemption on platform-funded
coupons only (`escrow_offers` / `escrow_quote_in`, then `redeem_in` with the escrow number).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from paybao.domain.coupons import (
    CANDIDATES_MAX,
    Coupon,
    CouponChoice,
    CouponClaimLimit,
    CouponNotApplicable,
    CouponSoldOut,
    CouponStatus,
    CouponTemplateInvalid,
    CouponTemplateNotFound,
    CouponUnavailable,
    Held,
    Quote,
    Template,
    Terms,
    VoucherDetail,
    best_quote,
    check_claimable,
    check_terms,
    chosen_quote,
    expires_at_us,
    issue_template_for,
    quote,
    usable,
    value_fen,
)
from paybao.domain.errors import Forbidden, Retryable
from paybao.domain.trades import DiscountFunder
from paybao.services.audit import AuditTrail
from paybao.services.merchants import MerchantService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.trades import Trade

LIST_LIMIT_MAX: Final = 100
# The cashier offers this many coupons of each funder (the best first).
OFFERS_MAX: Final = 10
# Templates looked at for a payment-success gift.
ISSUE_CANDIDATES_MAX: Final = 20
# The merchant id the rules see for a market escrow (no merchant): no merchant has id 0, and
# only coupons limited to no merchant are priced for it (`_escrow_fit`).
NO_MERCHANT: Final = 0


class CouponStore(Protocol):
    def insert_template(self, tx: Tx, terms: Terms, created_by: str, now_us: int) -> int: ...

    def template(self, tx: Tx, template_id: int) -> Template | None: ...

    def templates(
        self, tx: Tx, *, limit: int, merchant_id: int | None = None
    ) -> list[Template]: ...

    def running_templates(
        self, tx: Tx, now_us: int, *, claimable: bool, limit: int
    ) -> list[Template]: ...

    def reserve(self, tx: Tx, template_id: int, value_fen: int) -> bool: ...

    def stop_template(self, tx: Tx, template_id: int, now_us: int) -> bool: ...

    def usage(self, tx: Tx, template_ids: Sequence[int]) -> dict[int, tuple[int, int]]: ...

    def held_count(self, tx: Tx, template_id: int, user_id: int) -> int: ...

    def insert_coupon(self, tx: Tx, coupon: Coupon, claim_no: int) -> int: ...

    def held(self, tx: Tx, user_id: int, coupon_ids: Sequence[int]) -> list[Held]: ...

    def available(self, tx: Tx, user_id: int, now_us: int, limit: int) -> list[Held]: ...

    def of_user(
        self, tx: Tx, user_id: int, state: CouponStatus, now_us: int, limit: int
    ) -> list[Held]: ...

    def by_source(self, tx: Tx, trade_no: str) -> Held | None: ...

    def redeem(
        self, tx: Tx, coupon_id: int, trade_no: str, amount_fen: int, now_us: int
    ) -> bool: ...

    def vouchers(self, tx: Tx, trade_no: str) -> list[VoucherDetail]: ...


class TradeReader(Protocol):
    def trade_by_no(self, tx: Tx, trade_no: str) -> Trade | None: ...


@dataclass(frozen=True, slots=True)
class Creator:
    """Who creates or stops a template: an operator (platform-funded) or a merchant (its own)."""

    operator_id: int | None = None
    merchant_id: int | None = None

    def __post_init__(self) -> None:
        assert (self.operator_id is None) != (self.merchant_id is None)

    @property
    def label(self) -> str:
        if self.operator_id is not None:
            return f"operator:{self.operator_id}"
        return f"merchant:{self.merchant_id}"


@dataclass(frozen=True, slots=True)
class TemplateView:
    template: Template
    used_count: int
    used_fen: int  # what its coupons took off trades


@dataclass(frozen=True, slots=True)
class Claimable:
    template: Template
    held_count: int  # how many of it the user holds (any state)

    @property
    def can_claim(self) -> bool:
        return self.held_count < self.template.terms.per_user_max and self.template.left_count > 0


@dataclass(frozen=True, slots=True)
class CouponOffer:
    held: Held
    value_fen: int  # what it takes off this trade alone


@dataclass(frozen=True, slots=True)
class Offers:
    """What the cashier shows for one trade: the buyer's usable coupons by funder (most
    valuable first), the best pair, and what the buyer pays for every pair it may pick
    (`"<merchant coupon id>:<platform coupon id>"`, 0 for none; None: they do not stack)."""

    merchant: tuple[CouponOffer, ...]
    platform: tuple[CouponOffer, ...]
    best: Quote
    buyer_pay: dict[str, int | None]


@dataclass
class MarketingService:
    db: Database
    store: CouponStore
    clock: Clock
    audit: AuditTrail
    merchants: MerchantService
    trades: TradeReader

    # Templates --------------------------------------------------------------------------------

    def create_template(self, terms: Terms, creator: Creator) -> Template:
        now_us = self.clock.now_us()
        terms = _owned_terms(terms, creator)
        check_terms(terms, now_us)

        def work(tx: Tx) -> Template:
            if terms.merchant_id is not None:
                self.merchants.merchant_in(tx, terms.merchant_id)  # NotFound if none
            template_id = self.store.insert_template(tx, terms, creator.label, now_us)
            self._audit_in(tx, "coupon.create", template_id, creator, _describe(terms))
            return self._template_in(tx, template_id)

        return self.db.run(work)

    def stop_template(self, template_id: int, creator: Creator) -> Template:
        """No more claims or gifts; coupons already held stay usable until they expire."""

        def work(tx: Tx) -> Template:
            template = self._own_template_in(tx, template_id, creator)
            if self.store.stop_template(tx, template_id, self.clock.now_us()):
                self._audit_in(tx, "coupon.stop", template_id, creator, template.terms.name)
            return self._template_in(tx, template_id)

        return self.db.run(work)

    def template(self, template_id: int) -> Template:
        with self.db.read() as tx:
            return self._template_in(tx, template_id)

    def templates(self, *, merchant_id: int | None = None, limit: int = 50) -> list[TemplateView]:
        """Newest first, with how many coupons were used and what they took off."""
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            found = self.store.templates(tx, limit=limit, merchant_id=merchant_id)
            usage = self.store.usage(tx, [template.id for template in found])
        return [TemplateView(t, *usage.get(t.id, (0, 0))) for t in found]

    def claimable(self, user_id: int, limit: int = 50) -> list[Claimable]:
        """Campaigns running now that users claim, with what this user holds of each."""
        assert 0 < limit <= LIST_LIMIT_MAX
        now_us = self.clock.now_us()
        with self.db.read() as tx:
            running = self.store.running_templates(tx, now_us, claimable=True, limit=limit)
            return [Claimable(t, self.store.held_count(tx, t.id, user_id)) for t in running]

    # Getting coupons --------------------------------------------------------------------------

    def claim(self, user_id: int, template_id: int) -> Coupon:
        def work(tx: Tx) -> Coupon:
            template = self._template_in(tx, template_id)
            now_us = self.clock.now_us()
            check_claimable(template, now_us)
            return self._issue_in(tx, template, user_id, now_us, source_trade_no=None)

        return self.db.run(work)

    def issue_after_payment(self, trade_no: str, user_id: int) -> Held | None:
        """The payment-success page's gift: one coupon of the most valuable running template
        the payment qualifies for, once per trade (a reload gets the same one)."""

        def work(tx: Tx) -> Held | None:
            earlier = self.store.by_source(tx, trade_no)
            if earlier is not None:
                return earlier if earlier.coupon.user_id == user_id else None
            trade = self.trades.trade_by_no(tx, trade_no)
            if trade is None or not trade.paid or trade.buyer_user_id != user_id:
                return None
            return self._gift_in(tx, trade, user_id)

        return self.db.run(work)

    def _gift_in(self, tx: Tx, trade: Trade, user_id: int) -> Held | None:
        now_us = self.clock.now_us()
        templates = self.store.running_templates(
            tx, now_us, claimable=False, limit=ISSUE_CANDIDATES_MAX
        )
        while templates:
            chosen = issue_template_for(templates, trade.merchant_id, trade.total_fen, now_us)
            if chosen is None:
                return None
            templates = [t for t in templates if t.id != chosen.id]
            try:
                coupon = self._issue_in(tx, chosen, user_id, now_us, trade.trade_no)
            except (CouponClaimLimit, CouponSoldOut):
                continue  # the user holds enough of it, or it ran out: the next best
            return Held(coupon, chosen.terms)
        return None

    def issued_for(self, trade_no: str, user_id: int) -> Held | None:
        """The gift a payment brought this user, if any."""
        with self.db.read() as tx:
            found = self.store.by_source(tx, trade_no)
        return found if found is not None and found.coupon.user_id == user_id else None

    def _issue_in(
        self, tx: Tx, template: Template, user_id: int, now_us: int, source_trade_no: str | None
    ) -> Coupon:
        held = self.store.held_count(tx, template.id, user_id)
        if held >= template.terms.per_user_max:
            raise CouponClaimLimit("you hold as many of this coupon as one user may")
        value = template.terms.max_value_fen
        if not self.store.reserve(tx, template.id, value):
            raise CouponSoldOut("no coupons left")
        draft = Coupon(
            id=0,
            template_id=template.id,
            user_id=user_id,
            status=CouponStatus.AVAILABLE,
            value_fen=value,
            issued_at_us=now_us,
            expires_at_us=expires_at_us(template.terms, now_us),
            source_trade_no=source_trade_no,
        )
        coupon_id = self.store.insert_coupon(tx, draft, claim_no=held + 1)
        return dataclasses.replace(draft, id=coupon_id)

    # The user's coupons -----------------------------------------------------------------------

    def coupons_of(self, user_id: int, state: CouponStatus, limit: int = 50) -> list[Held]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.of_user(tx, user_id, state, self.clock.now_us(), limit)

    # Paying with coupons (the trade payment path) ---------------------------------------------

    def offers(self, trade: Trade, user_id: int) -> Offers:
        """The cashier's coupon choices for an open trade."""
        return self._offers(
            trade.total_fen, trade.undiscountable_fen, trade.merchant_id, user_id, _any_coupon
        )

    def _offers(
        self,
        total_fen: int,
        undiscountable_fen: int,
        merchant_id: int,
        user_id: int,
        fits: Callable[[Held], bool],
    ) -> Offers:
        now_us = self.clock.now_us()
        with self.db.read() as tx:
            candidates = self.store.available(tx, user_id, now_us, CANDIDATES_MAX)
        candidates = [held for held in candidates if fits(held)]
        base_fen = total_fen - undiscountable_fen
        offers: dict[DiscountFunder, list[CouponOffer]] = {f: [] for f in DiscountFunder}
        for held in candidates:
            off = value_fen(held.terms, base_fen)
            if off > 0 and usable(held, merchant_id, now_us):
                offers[held.terms.funder].append(CouponOffer(held, off))
        for group in offers.values():
            group.sort(key=lambda o: (-o.value_fen, o.held.coupon.expires_at_us, o.held.coupon.id))
            del group[OFFERS_MAX:]
        merchant = tuple(offers[DiscountFunder.MERCHANT])
        platform = tuple(offers[DiscountFunder.PLATFORM])
        shown = [o.held for o in (*merchant, *platform)]
        best = best_quote(total_fen, undiscountable_fen, shown, merchant_id, now_us)
        table = _buyer_pay_table(total_fen, undiscountable_fen, merchant, platform)
        return Offers(merchant, platform, best, table)

    def quote_in(self, tx: Tx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote:
        return self._quote_in(
            tx,
            trade.total_fen,
            trade.undiscountable_fen,
            trade.merchant_id,
            buyer_user_id,
            choice,
            _any_coupon,
        )

    def _quote_in(
        self,
        tx: Tx,
        total_fen: int,
        undiscountable_fen: int,
        merchant_id: int,
        buyer_user_id: int,
        choice: CouponChoice,
        fits: Callable[[Held], bool],
    ) -> Quote:
        now_us = self.clock.now_us()
        if choice.auto:
            candidates = self.store.available(tx, buyer_user_id, now_us, CANDIDATES_MAX)
            candidates = [held for held in candidates if fits(held)]
            return best_quote(total_fen, undiscountable_fen, candidates, merchant_id, now_us)
        chosen = self.store.held(tx, buyer_user_id, choice.coupon_ids)
        if len(chosen) != len(choice.coupon_ids):
            raise CouponUnavailable("this coupon is not yours")
        if not all(fits(held) for held in chosen):
            raise CouponNotApplicable("this coupon does not apply to this order")
        return chosen_quote(total_fen, undiscountable_fen, chosen, merchant_id, now_us)

    def redeem_in(self, tx: Tx, trade_no: str, quote: Quote) -> None:
        now_us = self.clock.now_us()
        # In id order, so two payments redeeming the same coupons lock them in the same order.
        for voucher in sorted(quote.vouchers, key=lambda v: v.coupon_id):
            if self.store.redeem(tx, voucher.coupon_id, trade_no, voucher.amount_fen, now_us):
                continue
            if quote.auto:
                # Another payment used it since it was priced: price again without it.
                raise Retryable("a coupon was used meanwhile")
            raise CouponUnavailable("this coupon has been used or has expired")

    def vouchers_of(self, trade_no: str) -> list[VoucherDetail]:
        with self.db.read() as tx:
            return self.store.vouchers(tx, trade_no)

    # Paying an escrow with coupons (services/escrow.py's EscrowDiscounts) ---------------------
    # The same rules, on the platform-funded coupons that fit the escrow (`_fits_escrow`); a
    # coupon is redeemed by `redeem_in` with the escrow number as its trade number.

    def escrow_offers(self, total_fen: int, merchant_id: int | None, user_id: int) -> Offers:
        """The escrow pay page's coupon choices (a market escrow has no merchant)."""
        return self._offers(
            total_fen, 0, merchant_id or NO_MERCHANT, user_id, _escrow_fit(merchant_id)
        )

    def escrow_quote_in(
        self,
        tx: Tx,
        total_fen: int,
        merchant_id: int | None,
        buyer_user_id: int,
        choice: CouponChoice,
    ) -> Quote:
        fits = _escrow_fit(merchant_id)
        merchant = merchant_id or NO_MERCHANT
        return self._quote_in(tx, total_fen, 0, merchant, buyer_user_id, choice, fits)

    # Shared -----------------------------------------------------------------------------------

    def _template_in(self, tx: Tx, template_id: int) -> Template:
        template = self.store.template(tx, template_id)
        if template is None:
            raise CouponTemplateNotFound("no such coupon campaign")
        return template

    def _own_template_in(self, tx: Tx, template_id: int, creator: Creator) -> Template:
        """A merchant may change only templates it created; operators only the platform's."""
        template = self._template_in(tx, template_id)
        if template.created_by.partition(":")[0] != creator.label.partition(":")[0]:
            raise CouponTemplateNotFound("no such coupon campaign")
        if creator.merchant_id is not None and template.created_by != creator.label:
            raise CouponTemplateNotFound("no such coupon campaign")
        return template

    def _audit_in(
        self, tx: Tx, action: str, template_id: int, creator: Creator, detail: str
    ) -> None:
        actor = None if creator.operator_id is not None else creator.label
        self.audit.record_in(
            tx,
            action,
            f"coupon_template:{template_id}",
            operator_id=creator.operator_id,
            actor=actor,
            detail=detail,
        )


def _owned_terms(terms: Terms, creator: Creator) -> Terms:
    """Operators run platform-funded campaigns; a merchant funds its own, limited to itself."""
    if creator.merchant_id is not None:
        if terms.funder is not DiscountFunder.MERCHANT:
            raise Forbidden("a merchant funds its own coupons", code="coupon_funder_forbidden")
        return dataclasses.replace(terms, merchant_id=creator.merchant_id)
    if terms.funder is not DiscountFunder.PLATFORM:
        raise CouponTemplateInvalid("operators create platform-funded coupons")
    return terms


def _describe(terms: Terms) -> str:
    value = terms.face_fen if terms.face_fen else terms.rate_permille
    return (
        f"{terms.name}: {terms.kind} {value} from {terms.threshold_fen}, "
        f"budget {terms.budget_fen} count {terms.count_max} per user {terms.per_user_max}"
    )


def _any_coupon(_held: Held) -> bool:
    return True


def _escrow_fit(merchant_id: int | None) -> Callable[[Held], bool]:
    """Escrow takes platform-funded coupons only (the seller is paid the full price, so no
    merchant discount applies); a coupon limited to a merchant only that merchant's escrow."""

    def fits(held: Held) -> bool:
        terms = held.terms
        return terms.funder is DiscountFunder.PLATFORM and terms.merchant_id in (None, merchant_id)

    return fits


def _buyer_pay_table(
    total_fen: int,
    undiscountable_fen: int,
    merchant: Sequence[CouponOffer],
    platform: Sequence[CouponOffer],
) -> dict[str, int | None]:
    table: dict[str, int | None] = {}
    for m in (None, *merchant):
        for p in (None, *platform):
            pair = quote(
                total_fen,
                undiscountable_fen,
                m.held if m else None,
                p.held if p else None,
            )
            wanted = (m is not None) + (p is not None)
            key = f"{m.held.coupon.id if m else 0}:{p.held.coupon.id if p else 0}"
            table[key] = pair.buyer_pay_fen if len(pair.vouchers) == wanted else None
    return table
