"""Withholding agreements: sign requests, signing, ending, the user's caps, reads.

One write path per change, each in one transaction: the agreement row is read `FOR UPDATE`
(PostgreSQL; SQLite serialises writers) and written compare-and-set on its status, together
with the merchant's notification (`AgreementEvents`, the outbox). Deductions against an
agreement are `services/withholding.py`.

A merchant's external agreement number is unique among its live agreements (TEMP or NORMAL)
of one product and scene: the row carries a `live_key` under a unique constraint while live,
and NULL once it has ended (or expired, when a new request for the number comes). A new sign
request for the same number supersedes an unsigned one (VOID), and the very same request
again (same fingerprint, still open) returns it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol, TypeVar

from paybao.domain.account_class import china_date
from paybao.domain.agreements import (
    EXTERNAL_LOGON_ID_LENGTH_MAX,
    EXTERNAL_NO_LENGTH_MAX,
    SIGN_SCENE_LENGTH_MAX,
    AgreementAlreadyUnsigned,
    AgreementNotFound,
    AgreementStatus,
    Party,
    PeriodRule,
    Product,
    SignRequestExpired,
    WithholdingLimits,
    check_period_rule,
    check_text,
    check_user_cap_value,
    due_date,
    new_agreement_no,
    period_index,
    validity_end,
)
from paybao.domain.errors import Conflict, InvalidInput
from paybao.services.clock import US_PER_S, us_from_datetime
from paybao.services.ports import Clock, Database, Tx

T = TypeVar("T")
LIST_LIMIT_MAX = 100
DEDUCTIONS_SHOWN_MAX = 50
SIGN_REQUEST_VALID_S_DEFAULT = 30 * 60
_S = AgreementStatus


@dataclass(frozen=True, slots=True)
class Agreement:
    id: int
    agreement_no: str
    sign_token: str
    app_id: str
    merchant_id: int
    user_id: int | None
    status: AgreementStatus
    product: Product
    sign_scene: str
    external_agreement_no: str | None
    external_logon_id: str | None
    rule: PeriodRule | None
    user_cap_fen: int | None
    paid_count: int
    paid_fen: int
    live_key: str | None
    fingerprint: str
    notify_url: str | None
    return_url: str | None
    channel_context: str
    created_at_us: int
    sign_expires_at_us: int
    invalid_at_us: int
    signed_at_us: int | None = None
    unsigned_at_us: int | None = None
    unsigned_by: Party | None = None
    last_deduct_at_us: int | None = None

    @property
    def personal_product_code(self) -> str:
        return self.product.personal_code


@dataclass(frozen=True, slots=True)
class Deduction:
    agreement_id: int
    trade_no: str
    user_id: int
    amount_fen: int
    period_index: int | None
    china_day: str  # 2026-05-01
    china_month: str  # 2026-05
    created_at_us: int
    # The deduction's trade total, as read back for the wallet (None when written): more than
    # amount_fen, what the user paid and every limit counts, when coupons paid part of it.
    total_fen: int | None = None

    @property
    def discount_fen(self) -> int:
        """What coupons took off the order (both funders)."""
        return 0 if self.total_fen is None else self.total_fen - self.amount_fen


@dataclass(frozen=True, slots=True)
class NewSignRequest:
    """A merchant's `alipay.user.agreement.page.sign`. `fingerprint` digests the request's
    terms (the adapter decides which): the same request again returns the same sign page."""

    app_id: str
    product: Product
    sign_scene: str
    fingerprint: str
    external_agreement_no: str | None = None
    external_logon_id: str | None = None
    rule: PeriodRule | None = None
    validity: str | None = None
    notify_url: str | None = None
    return_url: str | None = None
    channel_context: str = "{}"


@dataclass(frozen=True, slots=True)
class AgreementRef:
    """How a merchant names an agreement: by number (then nothing else counts), or by product
    and scene with its own external number, or by product and user (and scene)."""

    agreement_no: str | None = None
    product: Product | None = None
    sign_scene: str | None = None
    external_agreement_no: str | None = None
    user_id: int | None = None

    def __post_init__(self) -> None:
        if self.agreement_no:
            return
        by_external = self.sign_scene and self.external_agreement_no
        if self.product is None or not (by_external or self.user_id):
            raise InvalidInput(
                "name the agreement by agreement_no, or by personal_product_code with"
                " sign_scene + external_agreement_no or with the user",
                code="agreement_ref",
            )


@dataclass(frozen=True, slots=True)
class AgreementView:
    """One agreement as its user sees it in the wallet."""

    agreement: Agreement
    month_deducted_fen: int
    deductions: list[Deduction]


class AgreementStore(Protocol):
    def insert(self, tx: Tx, agreement: Agreement) -> int:
        """A plain insert: a taken number or live key fails the transaction (retried)."""
        ...

    def by_no(self, tx: Tx, agreement_no: str, *, for_update: bool = False) -> Agreement | None: ...

    def by_token(self, tx: Tx, token: str, *, for_update: bool = False) -> Agreement | None: ...

    def by_live_key(self, tx: Tx, live_key: str) -> Agreement | None:
        """Read FOR UPDATE: the live agreement holding this key."""
        ...

    def find(self, tx: Tx, merchant_id: int, ref: AgreementRef) -> Agreement | None:
        """The merchant's agreement `ref` names: by number in any status, else the newest
        signed (NORMAL) one that matches."""
        ...

    def update(
        self, tx: Tx, agreement_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: apply `changes` only if the row still holds `expect`."""
        ...

    def of_user(self, tx: Tx, user_id: int, limit: int) -> list[Agreement]: ...

    def insert_deduction(self, tx: Tx, deduction: Deduction) -> None:
        """A plain insert: one deduction per (agreement, period) is a unique constraint."""
        ...

    def deductions_of(self, tx: Tx, agreement_id: int, limit: int) -> list[Deduction]: ...

    def period_used(self, tx: Tx, agreement_id: int, period_index: int) -> bool: ...

    def month_fen(self, tx: Tx, agreement_id: int, china_month: str) -> int: ...

    def add_usage(self, tx: Tx, user_id: int, period: str, amount_fen: int) -> int:
        """Add to the user's withholding in `period` and return the new total (an upsert whose
        row lock serialises the user's concurrent deductions until the transaction ends)."""
        ...


class Signers(Protocol):
    """What agreements need from the wallet (UserService implements it)."""

    def run_paying(self, work: Callable[[Tx], T]) -> T: ...

    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...

    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int: ...


class Apps(Protocol):
    def app(self, app_id: str) -> Any:
        """The app (its `merchant_id`), or NotFound."""
        ...


class AgreementEvents(Protocol):
    """Where agreement changes are announced (the merchant's notification outbox)."""

    def agreement_changed_in(self, tx: Tx, agreement: Agreement, notify_type: str) -> None: ...


class AgreementExists(Conflict):
    code = "agreement_exists"


@dataclass(frozen=True, slots=True)
class AgreementPolicy:
    limits: WithholdingLimits = field(default_factory=WithholdingLimits)
    sign_request_valid_s: int = SIGN_REQUEST_VALID_S_DEFAULT


class AgreementService:
    def __init__(
        self,
        *,
        db: Database,
        store: AgreementStore,
        clock: Clock,
        users: Signers,
        apps: Apps,
        events: AgreementEvents,
        policy: AgreementPolicy,
    ) -> None:
        assert policy.sign_request_valid_s > 0
        self.db = db
        self.store = store
        self.clock = clock
        self.users = users
        self.apps = apps
        self.events = events
        self.policy = policy

    # Sign requests --------------------------------------------------------------------------

    def request_sign(self, new: NewSignRequest) -> Agreement:
        """A TEMP agreement and its sign page's token; the same open request returns it."""
        merchant_id = int(self.apps.app(new.app_id).merchant_id)
        draft = self._draft(new, merchant_id)

        def work(tx: Tx) -> Agreement:
            if draft.live_key is not None:
                existing = self.store.by_live_key(tx, draft.live_key)
                if existing is not None:
                    kept = self._supersede_in(tx, existing, draft)
                    if kept is not None:
                        return kept
            return replace(draft, id=self.store.insert(tx, draft))

        return self.db.run(work)

    def _draft(self, new: NewSignRequest, merchant_id: int) -> Agreement:
        _check_request(new, self.policy.limits, china_date(self.clock.now()))
        now = self.clock.now()
        now_us = us_from_datetime(now)
        external = new.external_agreement_no
        live_key = f"{merchant_id}|{new.product}|{new.sign_scene}|{external}" if external else None
        return Agreement(
            id=0,
            agreement_no=new_agreement_no(china_date(now)),
            sign_token=secrets.token_urlsafe(24),
            app_id=new.app_id,
            merchant_id=merchant_id,
            user_id=None,
            status=_S.TEMP,
            product=new.product,
            sign_scene=new.sign_scene,
            external_agreement_no=external,
            external_logon_id=new.external_logon_id,
            rule=new.rule,
            user_cap_fen=None,
            paid_count=0,
            paid_fen=0,
            live_key=live_key,
            fingerprint=new.fingerprint,
            notify_url=new.notify_url,
            return_url=new.return_url,
            channel_context=new.channel_context,
            created_at_us=now_us,
            sign_expires_at_us=now_us + self.policy.sign_request_valid_s * US_PER_S,
            invalid_at_us=us_from_datetime(validity_end(now, new.validity)),
        )

    def _supersede_in(self, tx: Tx, existing: Agreement, draft: Agreement) -> Agreement | None:
        """The live agreement with the draft's external number: a signed one refuses the
        request unless it has expired (then it keeps its record and frees the number); the
        same open request is returned; any other unsigned one is voided."""
        if existing.status is _S.NORMAL:
            if existing.invalid_at_us > self.clock.now_us():
                raise AgreementExists("this external_agreement_no has a signed agreement")
            expect = {"status": _S.NORMAL, "live_key": existing.live_key}
            changed = self.store.update(tx, existing.id, expect, {"live_key": None})
            assert changed, "the row was read for update"
            return None
        assert existing.status is _S.TEMP
        if existing.fingerprint == draft.fingerprint and not self._expired(existing):
            return existing
        expect = {"status": _S.TEMP, "live_key": existing.live_key}
        changed = self.store.update(tx, existing.id, expect, {"status": _S.VOID, "live_key": None})
        assert changed, "the row was read for update"
        return None

    def _expired(self, agreement: Agreement) -> bool:
        now_us = self.clock.now_us()
        return agreement.sign_expires_at_us <= now_us or agreement.invalid_at_us <= now_us

    def sign_request(self, token: str) -> Agreement:
        """The agreement behind a sign page, whatever its status."""
        with self.db.read() as tx:
            agreement = self.store.by_token(tx, token)
        if agreement is None:
            raise AgreementNotFound("no such sign request")
        return agreement

    # Signing --------------------------------------------------------------------------------

    def sign(self, token: str, user_id: int, payment_password: str) -> Agreement:
        """The user signs with the payment password; the merchant is told (dut_user_sign).
        Signing again what this user just signed returns the agreement (a double submit)."""

        def work(tx: Tx) -> Agreement:
            agreement = self.store.by_token(tx, token, for_update=True)
            if agreement is None:
                raise AgreementNotFound("no such sign request")
            if agreement.status is _S.NORMAL and agreement.user_id == user_id:
                return agreement
            if agreement.status is not _S.TEMP or self._expired(agreement):
                raise SignRequestExpired("this sign request is no longer open")
            self.users.check_payment_password_in(tx, user_id, payment_password)
            self.users.wallet_account_id_in(tx, user_id)  # only a complete wallet can pay
            now_us = self.clock.now_us()
            changes = {"status": _S.NORMAL, "user_id": user_id, "signed_at_us": now_us}
            changed = self.store.update(tx, agreement.id, {"status": _S.TEMP}, changes)
            assert changed, "the row was read for update"
            signed = replace(agreement, status=_S.NORMAL, user_id=user_id, signed_at_us=now_us)
            self.events.agreement_changed_in(tx, signed, "dut_user_sign")
            return signed

        return self.users.run_paying(work)

    # Ending ---------------------------------------------------------------------------------

    def unsign_by_merchant(self, app_id: str, ref: AgreementRef) -> Agreement:
        merchant_id = int(self.apps.app(app_id).merchant_id)

        def work(tx: Tx) -> Agreement:
            found = self.store.find(tx, merchant_id, ref)
            if found is None or found.status in (_S.TEMP, _S.VOID):
                raise AgreementNotFound("no such agreement")
            agreement = self.store.by_no(tx, found.agreement_no, for_update=True)
            assert agreement is not None
            return self._end_in(tx, agreement, Party.MERCHANT)

        return self.db.run(work)

    def unsign_by_user(self, user_id: int, agreement_no: str) -> Agreement:
        def work(tx: Tx) -> Agreement:
            agreement = self.store.by_no(tx, agreement_no, for_update=True)
            if agreement is None or agreement.user_id != user_id:
                raise AgreementNotFound("no such agreement")
            return self._end_in(tx, agreement, Party.USER)

        return self.db.run(work)

    def _end_in(self, tx: Tx, agreement: Agreement, party: Party) -> Agreement:
        if agreement.status is _S.UNSIGN:
            raise AgreementAlreadyUnsigned("this agreement has been unsigned already")
        assert agreement.status is _S.NORMAL, agreement.status
        now_us = self.clock.now_us()
        changes = {
            "status": _S.UNSIGN,
            "live_key": None,
            "unsigned_at_us": now_us,
            "unsigned_by": party,
        }
        changed = self.store.update(tx, agreement.id, {"status": _S.NORMAL}, changes)
        assert changed, "the row was read for update"
        ended = replace(
            agreement, status=_S.UNSIGN, live_key=None, unsigned_at_us=now_us, unsigned_by=party
        )
        self.events.agreement_changed_in(tx, ended, "dut_user_unsign")
        return ended

    # The merchant's view --------------------------------------------------------------------

    def query(self, app_id: str, ref: AgreementRef) -> Agreement:
        """A signed agreement of this merchant; an ended or unsigned one does not exist."""
        merchant_id = int(self.apps.app(app_id).merchant_id)
        with self.db.read() as tx:
            agreement = self.store.find(tx, merchant_id, ref)
        if agreement is None or agreement.status is not _S.NORMAL:
            raise AgreementNotFound("no such agreement")
        return agreement

    # The user's view ------------------------------------------------------------------------

    def agreements_of(self, user_id: int, limit: int = 50) -> list[Agreement]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.of_user(tx, user_id, limit)

    def view(self, user_id: int, agreement_no: str) -> AgreementView:
        month = china_date(self.clock.now()).strftime("%Y-%m")
        with self.db.read() as tx:
            agreement = self.store.by_no(tx, agreement_no)
            if agreement is None or agreement.user_id != user_id:
                raise AgreementNotFound("no such agreement")
            month_fen = self.store.month_fen(tx, agreement.id, month)
            deductions = self.store.deductions_of(tx, agreement.id, DEDUCTIONS_SHOWN_MAX)
        return AgreementView(agreement, month_fen, deductions)

    def set_user_cap(
        self, user_id: int, agreement_no: str, cap_fen: int | None, payment_password: str
    ) -> Agreement:
        """The user's own monthly cap on one agreement (None removes it), proven by the
        payment password: a higher cap lets the merchant take more without asking."""
        check_user_cap_value(cap_fen, self.policy.limits)

        def work(tx: Tx) -> Agreement:
            agreement = self.store.by_no(tx, agreement_no, for_update=True)
            if agreement is None or agreement.user_id != user_id:
                raise AgreementNotFound("no such agreement")
            if agreement.status is not _S.NORMAL:
                raise AgreementAlreadyUnsigned("this agreement has ended")
            self.users.check_payment_password_in(tx, user_id, payment_password)
            expect = {"status": _S.NORMAL}
            changed = self.store.update(tx, agreement.id, expect, {"user_cap_fen": cap_fen})
            assert changed, "the row was read for update"
            return replace(agreement, user_cap_fen=cap_fen)

        return self.users.run_paying(work)

    def next_deduct_date(self, agreement: Agreement) -> date | None:
        """A signed cycle agreement's next due date: this period's if it is still unpaid
        (overdue, when its date has passed), else the next period's; None when done."""
        rule = agreement.rule
        if rule is None or agreement.status is not _S.NORMAL:
            return None
        if rule.total_payments is not None and agreement.paid_count >= rule.total_payments:
            return None
        index = period_index(rule, china_date(self.clock.now()))
        if index is None:
            return due_date(rule, 0)
        with self.db.read() as tx:
            used = self.store.period_used(tx, agreement.id, index)
        return due_date(rule, index + 1 if used else index)

    def expired(self, agreement: Agreement) -> bool:
        """A signed agreement past its invalid time (deductions are refused)."""
        return agreement.invalid_at_us <= self.clock.now_us()


def _check_request(new: NewSignRequest, limits: WithholdingLimits, today: date) -> None:
    check_text(new.sign_scene, field="sign_scene", length_max=SIGN_SCENE_LENGTH_MAX, required=True)
    external = new.external_agreement_no or ""
    check_text(external, field="external_agreement_no", length_max=EXTERNAL_NO_LENGTH_MAX)
    logon = new.external_logon_id or ""
    check_text(logon, field="external_logon_id", length_max=EXTERNAL_LOGON_ID_LENGTH_MAX)
    if new.product.cyclic != (new.rule is not None):
        raise InvalidInput(
            "period_rule_params go with CYCLE_PAY_AUTH and only with it",
            code="invalid_period_rule",
        )
    if new.rule is not None:
        check_period_rule(new.rule, today, limits.single_fen_max)


__all__ = [
    "Agreement",
    "AgreementEvents",
    "AgreementExists",
    "AgreementPolicy",
    "AgreementRef",
    "AgreementService",
    "AgreementStore",
    "AgreementView",
    "Deduction",
    "NewSignRequest",
]
