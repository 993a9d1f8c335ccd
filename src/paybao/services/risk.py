"""Real-time risk control of money-out operations (the rules: `domain/risk.py`).

`assess_in` runs inside the operation's own transaction, just before the money moves: one
statement reads the signals (the user's newest operations, whether the payee was paid before or
is blacklisted), the pure rules decide. A refusal (`RiskRefused`) rolls the operation back; the
caller then records it with `record_refusal` in a transaction of its own, so a refused attempt
leaves exactly one row and no money moved. A DELAY is recorded with the operation it holds
(`record_in`, same transaction) and waits in the operators' review queue, where they release
it at once or cancel it (the money goes back to the payer). Passes are not recorded: they are
the operation's own rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from paybao.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from paybao.domain.identity import normalize_phone
from paybao.domain.risk import (
    Action,
    Assessment,
    Decision,
    RiskRules,
    Signals,
    decide,
    refusal,
)
from paybao.services.audit import AuditTrail
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserService

DECISIONS_PAGE_MAX = 100
BLACKLIST_PAGE_MAX = 200
BLACKLIST_REASON_MAX = 200
REVIEWS = ("released", "cancelled", "confirmed")


@dataclass(frozen=True, slots=True)
class History:
    ops_since: int
    largest_fen: int | None
    paid_payee_before: bool
    payee_blacklisted: bool


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    id: int
    user_id: int
    action: str
    amount_fen: int
    decision: str
    reasons: tuple[str, ...]
    payee_user_id: int | None
    reference: str | None
    created_at_us: int
    reviewed_at_us: int | None
    reviewed_by: int | None
    review: str | None


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    user_id: int
    phone_masked: str  # 138****0000: operators see no more of a phone than elsewhere
    name_masked: str
    reason: str
    added_by: int | None
    added_at_us: int


@dataclass(frozen=True, slots=True)
class DecisionPage:
    decisions: list[RecordedDecision]  # newest first
    next_before_id: int | None  # the next page starts below this decision id; None: the end


@dataclass(frozen=True, slots=True)
class BlacklistPage:
    entries: list[BlacklistEntry]  # by user id, highest first
    next_before_user_id: int | None  # the next page starts below this user id; None: the end


class RiskStore(Protocol):
    def history(
        self,
        tx: Tx,
        user_id: int,
        payee_user_id: int | None,
        since_us: int,
        ops_max: int,
        payee_card: str | None = None,
    ) -> History:
        """With `payee_card` (a transfer to a bank card) the payee is that card."""
        ...

    def payment_history(self, tx: Tx, user_id: int, since_us: int, ops_max: int) -> History:
        """The user's merchant payments (paid trades) as history: `ops_since`, `largest_fen`."""
        ...

    def insert_decision(self, tx: Tx, values: dict[str, object]) -> int: ...

    def decisions(
        self, tx: Tx, *, unreviewed: bool, limit: int, before_id: int | None
    ) -> list[RecordedDecision]: ...

    def decision_for(self, tx: Tx, reference: str) -> RecordedDecision | None: ...

    def decision(
        self, tx: Tx, decision_id: int, *, for_update: bool = False
    ) -> RecordedDecision | None: ...

    def review(self, tx: Tx, decision_id: int, review: str, operator_id: int, now_us: int) -> bool:
        """Set the review of a decision not yet reviewed; False if it already was."""
        ...

    def blacklist_add(
        self, tx: Tx, user_id: int, reason: str, operator_id: int | None, now_us: int
    ) -> bool: ...

    def blacklist_remove(self, tx: Tx, user_id: int) -> bool: ...

    def blacklist(self, tx: Tx, limit: int) -> list[BlacklistEntry]:
        """The newest added first."""
        ...

    def blacklist_page(
        self, tx: Tx, limit: int, before_user_id: int | None
    ) -> list[BlacklistEntry]:
        """By user id, highest first; with `before_user_id`, those below it."""
        ...


class HeldTransfers(Protocol):
    def resolve_held_in(self, tx: Tx, transfer_id: int, *, land: bool) -> bool:
        """Land or void a pending transfer now; False if it is no longer pending."""
        ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One operation as risk control sees it."""

    user_id: int
    action: Action
    amount_fen: int
    by_device: bool
    payee_user_id: int | None = None
    delayed_already: bool = False
    payee_card: str | None = None  # a transfer to a bank card: the card number

    @property
    def has_payee(self) -> bool:
        return self.payee_user_id is not None or self.payee_card is not None


class RiskRefused(Exception):
    """Raised inside the operation's transaction; `error` is what the client is answered."""

    def __init__(self, attempt: Attempt, assessment: Assessment) -> None:
        super().__init__(assessment.decision.label)
        self.attempt = attempt
        self.assessment = assessment
        self.error: DomainError = refusal(assessment)


@dataclass
class RiskService:
    db: Database
    store: RiskStore
    clock: Clock
    users: UserService
    rules: RiskRules
    audit: AuditTrail | None = None
    held: HeldTransfers | None = None
    # Other features' operations a DELAY holds, by the prefix of the decision's reference
    # (card payouts: "cardpayout"); `held` resolves the wallet's transfers ("p2p").
    held_by_prefix: dict[str, HeldTransfers] = field(default_factory=dict)

    # The operation ------------------------------------------------------------------------

    def assess_in(self, tx: Tx, attempt: Attempt) -> Assessment:
        """Decide in the operation's transaction; raises `RiskRefused` for REJECT/CHALLENGE."""
        since_us = self.clock.now_us() - 3600 * US_PER_S
        history = self.store.history(
            tx,
            attempt.user_id,
            attempt.payee_user_id,
            since_us,
            self.rules.history_ops_max,
            payee_card=attempt.payee_card,
        )
        signals = Signals(
            action=attempt.action,
            amount_fen=attempt.amount_fen,
            by_device=attempt.by_device,
            ops_last_hour=history.ops_since,
            largest_recent_fen=history.largest_fen,
            new_payee=attempt.has_payee and not history.paid_payee_before,
            payee_blacklisted=history.payee_blacklisted,
            delayed_already=attempt.delayed_already,
        )
        assessment = decide(signals, self.rules)
        if assessment.refused:
            raise RiskRefused(attempt, assessment)
        return assessment

    def code_pay_in(self, tx: Tx, user_id: int, amount_fen: int, trade_no: str) -> bool:
        """Whether a payment-code payment the limits let go without the password may do so;
        False (recorded as a CHALLENGE against `trade:<trade_no>`) when it must wait for the
        buyer's password. Never refuses: the buyer is at the till and can confirm."""
        since_us = self.clock.now_us() - 3600 * US_PER_S
        history = self.store.payment_history(tx, user_id, since_us, self.rules.history_ops_max)
        attempt = Attempt(user_id, Action.CODE_PAY, amount_fen, by_device=True)
        signals = Signals(
            action=Action.CODE_PAY,
            amount_fen=amount_fen,
            by_device=True,
            ops_last_hour=history.ops_since,
            largest_recent_fen=history.largest_fen,
        )
        assessment = decide(signals, self.rules)
        if assessment.decision is Decision.PASS:
            return True
        self.record_in(tx, attempt, assessment, f"trade:{trade_no}")
        return False

    def record_in(
        self, tx: Tx, attempt: Attempt, assessment: Assessment, reference: str | None = None
    ) -> int:
        assert assessment.decision is not Decision.PASS
        return self.store.insert_decision(
            tx,
            {
                "user_id": attempt.user_id,
                "action": str(attempt.action),
                "amount_fen": attempt.amount_fen,
                "decision": assessment.decision.label,
                "reasons": ",".join(assessment.reasons),
                "payee_user_id": attempt.payee_user_id,
                "reference": reference,
                "created_at_us": self.clock.now_us(),
            },
        )

    def holds_in(self, tx: Tx, reference: str) -> bool:
        """Whether risk control holds what `reference` names (a delayed transfer `p2p:<id>`)."""
        return self.store.decision_for(tx, reference) is not None

    def record_refusal(self, refused: RiskRefused) -> DomainError:
        """After the operation rolled back: keep the refusal; returns the client's error."""
        self.db.run(lambda tx: self.record_in(tx, refused.attempt, refused.assessment))
        return refused.error

    # The review queue ---------------------------------------------------------------------

    def decisions(
        self, *, unreviewed: bool = False, limit: int = 50, before_id: int | None = None
    ) -> list[RecordedDecision]:
        page = self.decisions_page(unreviewed=unreviewed, limit=limit, before_id=before_id)
        return page.decisions

    def decisions_page(
        self, *, unreviewed: bool = False, limit: int = 50, before_id: int | None = None
    ) -> DecisionPage:
        """Decisions newest first, `limit` at a time; one row more is read so that a full
        last page says it is the last."""
        if not 1 <= limit <= DECISIONS_PAGE_MAX:
            raise InvalidInput(
                f"page size must be 1..{DECISIONS_PAGE_MAX}", code="page_size_invalid"
            )
        with self.db.read() as tx:
            found = self.store.decisions(
                tx, unreviewed=unreviewed, limit=limit + 1, before_id=before_id
            )
        page = found[:limit]
        return DecisionPage(page, page[-1].id if len(found) > limit else None)

    def review(self, decision_id: int, review: str, operator_id: int) -> RecordedDecision:
        """An operator's ruling on a delayed transfer: `released` lands it now, `cancelled`
        returns it to the payer, `confirmed` lets it land at its time. Once per decision."""
        if review not in REVIEWS:
            raise InvalidInput(f"review is one of {', '.join(REVIEWS)}", code="invalid_review")

        def work(tx: Tx) -> RecordedDecision:
            decision = self.store.decision(tx, decision_id, for_update=True)
            if decision is None:
                raise NotFound("no such risk decision", code="risk_decision_not_found")
            if decision.review is not None or decision.decision != Decision.DELAY.label:
                raise Conflict(
                    "this decision is not waiting for review", code="risk_already_reviewed"
                )
            if review != "confirmed":
                self._resolve_in(tx, decision, land=review == "released")
            assert self.store.review(tx, decision_id, review, operator_id, self.clock.now_us())
            self._audit_in(tx, f"risk.{review}", f"risk:{decision_id}", operator_id, "")
            reviewed = self.store.decision(tx, decision_id)
            assert reviewed is not None
            return reviewed

        return self.db.run(work)

    def _resolve_in(self, tx: Tx, decision: RecordedDecision, *, land: bool) -> None:
        kind, _, row_id = (decision.reference or "").partition(":")
        held = self.held if kind == "p2p" else self.held_by_prefix.get(kind)
        if held is None or not row_id.isdigit():
            raise Conflict("this decision holds no transfer", code="risk_nothing_held")
        if not held.resolve_held_in(tx, int(row_id), land=land):
            raise Conflict(
                "the transfer has already landed or been cancelled", code="risk_already_resolved"
            )

    # The blacklist ------------------------------------------------------------------------

    def blacklist(self, limit: int = BLACKLIST_PAGE_MAX) -> list[BlacklistEntry]:
        with self.db.read() as tx:
            return self.store.blacklist(tx, min(max(limit, 1), BLACKLIST_PAGE_MAX))

    def blacklist_page(
        self, *, before_user_id: int | None = None, limit: int = 50
    ) -> BlacklistPage:
        """The blacklist by user id, highest first, `limit` at a time (the REST API's pages)."""
        if not 1 <= limit <= BLACKLIST_PAGE_MAX:
            raise InvalidInput(
                f"page size must be 1..{BLACKLIST_PAGE_MAX}", code="page_size_invalid"
            )
        with self.db.read() as tx:
            entries = self.store.blacklist_page(tx, limit + 1, before_user_id)
        more = len(entries) > limit
        entries = entries[:limit]
        return BlacklistPage(entries, entries[-1].user_id if more else None)

    def blacklist_add(
        self, phone: str, reason: str, operator_id: int | None, *, actor: str | None = None
    ) -> int:
        """Put the account with this phone number on the blacklist: nobody can pay it."""
        reason = reason.strip()
        if not reason or len(reason) > BLACKLIST_REASON_MAX or not reason.isprintable():
            raise InvalidInput(
                f"a reason of 1..{BLACKLIST_REASON_MAX} printable characters is required",
                code="blacklist_reason_invalid",
            )
        user = self.users.find_by_phone(normalize_phone(phone))
        if user is None:
            raise NotFound("no paybao account with this phone number", code="user_not_found")

        def work(tx: Tx) -> int:
            if not self.store.blacklist_add(tx, user.id, reason, operator_id, self.clock.now_us()):
                raise Conflict("this account is already blacklisted", code="already_blacklisted")
            subject = f"user:{user.id}"
            self._audit_in(tx, "risk.blacklist_add", subject, operator_id, reason, actor)
            return user.id

        return self.db.run(work)

    def blacklist_remove(
        self, user_id: int, operator_id: int | None, *, actor: str | None = None
    ) -> None:
        def work(tx: Tx) -> None:
            if not self.store.blacklist_remove(tx, user_id):
                raise NotFound("this account is not blacklisted", code="not_blacklisted")
            subject = f"user:{user_id}"
            self._audit_in(tx, "risk.blacklist_remove", subject, operator_id, "", actor)

        self.db.run(work)

    def _audit_in(
        self,
        tx: Tx,
        action: str,
        subject: str,
        operator_id: int | None,
        detail: str,
        actor: str | None = None,
    ) -> None:
        """`actor`: the API token that acted, if one did (the shared one has no operator)."""
        if self.audit is not None:
            self.audit.record_in(
                tx, action, subject, operator_id=operator_id, actor=actor, detail=detail
            )
