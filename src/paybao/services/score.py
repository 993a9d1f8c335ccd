"""The credit score: consent, monthly snapshots, and admission (the model: `domain/score.py`).

Consent first (alipay-product.md §8, §16): nothing is computed, stored or shown for a user who
has not switched scoring on (purpose `score`), and merchants' admission checks need their own
switch (purpose `admission`). Either is revocable at any time; switching the score off also
switches admission off and deletes the stored scores. Every switch is in the audit log.

A snapshot is one user's score for one period (`domain.score.period_of`): computed when the user
switches scoring on, then by the monthly pass (`services/score_months.py`) at 00:00 China time
on the 6th. One per (user, period) by a unique key, so computing twice stores once. The facts
come from read-only queries over the other features' tables (`ScoreQueries`).

Admission answers "does this person reach the threshold?" — consent, then the risk checks on
every account of the person, then the score (`domain.score.decide_admission`). A merchant's
query is kept with its transaction_id: the same id within a day gets the first answer again
(Zhima's rule), with other parameters it is refused, after a day it is spent.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from paybao.domain.errors import DomainError, Forbidden
from paybao.domain.fund import china_datetime, china_day, day_start_us
from paybao.domain.identity import real_names_match
from paybao.domain.score import (
    Admission,
    AdmissionReason,
    Candidate,
    Outcome,
    Purpose,
    Score,
    ScoreConsentRequired,
    ScoreFacts,
    ScoreNotAuthorised,
    TransactionExpired,
    TransactionReused,
    check_threshold,
    compute,
    decide_admission,
    next_period,
    parse_period,
    period_of,
    run_date,
)
from paybao.services.audit import AuditTrail
from paybao.services.clock import US_PER_S
from paybao.services.jobs import JobRunner
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserView

JOB_MONTH: Final = "score.month"
HISTORY_MAX: Final = 12  # periods shown
ADMISSIONS_SHOWN_MAX: Final = 20
IDENTITY_ACCOUNTS_MAX: Final = 5  # accounts one ID number may hold are 3 (registration)
GRANTED: Final = "granted"
REVOKED: Final = "revoked"


@dataclass(frozen=True, slots=True)
class ScorePolicy:
    batch_size: int = 200  # users the monthly pass scores per wake
    keep_periods: int = 24  # snapshots kept per user
    replay_s: int = 86_400  # a transaction_id answers again for a day

    def __post_init__(self) -> None:
        assert 0 < self.batch_size <= 1000
        assert 0 < self.keep_periods <= 120
        assert self.replay_s > 0


@dataclass(frozen=True, slots=True)
class Consent:
    purpose: Purpose
    granted: bool
    granted_at_us: int
    changed_at_us: int


@dataclass(frozen=True, slots=True)
class ConsentState:
    score: Consent | None
    admission: Consent | None

    @property
    def scoring(self) -> bool:
        return self.score is not None and self.score.granted

    @property
    def admitting(self) -> bool:
        return self.scoring and self.admission is not None and self.admission.granted


@dataclass(frozen=True, slots=True)
class Snapshot:
    user_id: int
    period: str
    score: Score
    computed_at_us: int


@dataclass(frozen=True, slots=True)
class AdmissionRecord:
    biz_no: str
    app_id: str
    merchant_id: int
    transaction_id: str
    fingerprint: str
    user_id: int | None
    threshold: int
    outcome: Outcome
    reasons: tuple[AdmissionReason, ...]
    created_at_us: int
    merchant_name: str = ""


@dataclass(frozen=True, slots=True)
class RiskFlags:
    frozen: bool
    blacklisted: bool
    credit_overdue: bool


@dataclass(frozen=True, slots=True)
class IdentityAccount:
    user_id: int
    real_name: str | None


@dataclass(frozen=True, slots=True)
class AdmissionQuery:
    """A merchant's question: is the person with this identity at or above `threshold`?"""

    app_id: str
    merchant_id: int
    transaction_id: str
    fingerprint: str  # a digest of everything asked, for replays
    threshold: int
    id_number: str | None = None  # a resident ID card number (cert_type IDENTITY_CARD)
    name: str | None = None  # must match the account's real name with an ID number
    user_id: int | None = None  # a paybao user id (cert_type ALIPAY_USER_ID)


@dataclass(frozen=True, slots=True)
class ScoreView:
    """What the user's score page shows."""

    consent: ConsentState
    current: Snapshot | None
    history: tuple[tuple[str, int], ...]  # (period, total), newest first
    admissions: tuple[AdmissionRecord, ...]  # merchants' checks, newest first


class ScoreStore(Protocol):
    def consents(self, tx: Tx, user_id: int, *, for_update: bool = False) -> list[Consent]: ...

    def set_consent(
        self, tx: Tx, user_id: int, purpose: Purpose, granted: bool, now_us: int
    ) -> None:
        """Insert or update; `granted_at_us` moves only when switched on."""
        ...

    def any_consent(self, tx: Tx) -> bool: ...

    def consenting_users(self, tx: Tx, after_user_id: int, limit: int) -> list[int]:
        """Users with the score switched on, after `after_user_id`, in order."""
        ...

    def snapshot(self, tx: Tx, user_id: int, period: str | None = None) -> Snapshot | None:
        """The period's snapshot, or the latest one when `period` is None."""
        ...

    def insert_snapshot(self, tx: Tx, snapshot: Snapshot) -> bool:
        """False if the (user, period) snapshot exists already."""
        ...

    def history(self, tx: Tx, user_id: int, limit: int) -> list[tuple[str, int]]: ...

    def delete_snapshots(self, tx: Tx, user_id: int, before_period: str | None = None) -> int: ...

    def admission(self, tx: Tx, app_id: str, transaction_id: str) -> AdmissionRecord | None: ...

    def insert_admission(self, tx: Tx, record: AdmissionRecord) -> bool:
        """False if the (app, transaction_id) exists already."""
        ...

    def admissions_of(self, tx: Tx, user_id: int, limit: int) -> list[AdmissionRecord]: ...


class ScoreQueries(Protocol):
    """Read-only: the facts about a user, the accounts of an identity, the risk flags."""

    def facts(self, tx: Tx, user_id: int, now_us: int) -> ScoreFacts: ...

    def accounts_of_id_number(
        self, tx: Tx, id_number: str, limit: int
    ) -> list[IdentityAccount]: ...

    def user_exists(self, tx: Tx, user_id: int) -> bool: ...

    def flags(self, tx: Tx, user_ids: Sequence[int]) -> dict[int, RiskFlags]: ...


class ActiveUsers(Protocol):
    def get(self, user_id: int) -> UserView:
        """The user (`step` 'active' once registered), or NotFound."""
        ...


class ScoreService:
    def __init__(
        self,
        *,
        db: Database,
        store: ScoreStore,
        queries: ScoreQueries,
        clock: Clock,
        jobs: JobRunner,
        users: ActiveUsers,
        audit: AuditTrail,
        policy: ScorePolicy,
    ) -> None:
        self.db = db
        self.store = store
        self.queries = queries
        self.clock = clock
        self.jobs = jobs
        self.users = users
        self.audit = audit
        self.policy = policy

    # Consent ----------------------------------------------------------------------------------

    def consent(self, user_id: int) -> ConsentState:
        with self.db.read() as tx:
            return self._consent_in(tx, user_id)

    def _consent_in(self, tx: Tx, user_id: int, *, for_update: bool = False) -> ConsentState:
        found = {c.purpose: c for c in self.store.consents(tx, user_id, for_update=for_update)}
        return ConsentState(found.get(Purpose.SCORE), found.get(Purpose.ADMISSION))

    def grant(self, user_id: int, purpose: Purpose) -> ConsentState:
        """Switch a purpose on (the user's explicit act). The score switched on is computed at
        once for the current period, so the user sees it now rather than on the next 6th."""
        user = self.users.get(user_id)
        if user.step != "active":
            raise Forbidden("finish registration first", code="registration_incomplete")

        def work(tx: Tx) -> ConsentState:
            consent = self._consent_in(tx, user_id, for_update=True)
            if purpose is Purpose.ADMISSION and not consent.scoring:
                raise ScoreConsentRequired("switch the score on before admission checks")
            self.store.set_consent(tx, user_id, purpose, True, self.clock.now_us())
            self._audit_in(tx, user_id, f"grant {purpose}")
            self.schedule_next_pass_in(tx)
            return self._consent_in(tx, user_id)

        state = self.db.run(work)
        if purpose is Purpose.SCORE:
            self.refresh(user_id)
        return state

    def revoke(self, user_id: int, purpose: Purpose) -> ConsentState:
        """Switch a purpose off. Switching the score off switches admission off too and deletes
        the user's stored scores: no score is kept for someone who does not want one."""

        def work(tx: Tx) -> ConsentState:
            consent = self._consent_in(tx, user_id, for_update=True)
            now_us = self.clock.now_us()
            ending = [purpose] if purpose is Purpose.ADMISSION else list(Purpose)
            for each in ending:
                if _granted(consent, each):
                    self.store.set_consent(tx, user_id, each, False, now_us)
            deleted = 0
            if purpose is Purpose.SCORE:
                deleted = self.store.delete_snapshots(tx, user_id)
            self._audit_in(tx, user_id, f"revoke {purpose}; {deleted} scores deleted")
            return self._consent_in(tx, user_id)

        return self.db.run(work)

    def _audit_in(self, tx: Tx, user_id: int, detail: str) -> None:
        subject = f"user:{user_id}"
        self.audit.record_in(tx, "score.consent", subject, actor=subject, detail=detail)

    def schedule_next_pass_in(self, tx: Tx) -> None:
        """Make sure the monthly pass wakes on the next 6th (idempotent by its key)."""
        now_us = self.clock.now_us()
        period = next_period(period_of(china_day(now_us)))
        self.jobs.schedule_in(tx, JOB_MONTH, f"{period}@0", day_start_us_of(period))

    # Snapshots --------------------------------------------------------------------------------

    def refresh(self, user_id: int) -> Snapshot | None:
        """The current period's snapshot, computed now if missing; None without consent."""
        period = period_of(china_day(self.clock.now_us()))
        return self.db.run(lambda tx: self.score_user_in(tx, user_id, period))

    def score_user(self, user_id: int, period: str) -> Snapshot | None:
        return self.db.run(lambda tx: self.score_user_in(tx, user_id, period))

    def score_user_in(self, tx: Tx, user_id: int, period: str) -> Snapshot | None:
        """The user's snapshot of `period`: the stored one, or computed and stored now. None
        if the score is off (checked under the consent row's lock, so a revocation that
        commits meanwhile either waits for this or is seen by it)."""
        if not self._consent_in(tx, user_id, for_update=True).scoring:
            return None
        stored = self.store.snapshot(tx, user_id, period)
        if stored is not None:
            return stored
        now_us = self.clock.now_us()
        snapshot = Snapshot(
            user_id, period, compute(self.queries.facts(tx, user_id, now_us)), now_us
        )
        if not self.store.insert_snapshot(tx, snapshot):
            found = self.store.snapshot(tx, user_id, period)
            assert found is not None, "a snapshot that exists must be readable"
            return found
        # Keep the last `keep_periods` periods, this one included.
        oldest_kept = _periods_back(period, self.policy.keep_periods - 1)
        self.store.delete_snapshots(tx, user_id, oldest_kept)
        return snapshot

    def current(self, user_id: int) -> Snapshot:
        """The latest score; ScoreNotAuthorised when the score is off."""
        with self.db.read() as tx:
            if not self._consent_in(tx, user_id).scoring:
                raise ScoreNotAuthorised("the credit score is switched off")
            found = self.store.snapshot(tx, user_id)
        return found if found is not None else self._computed(user_id)

    def _computed(self, user_id: int) -> Snapshot:
        snapshot = self.refresh(user_id)
        if snapshot is None:
            raise ScoreNotAuthorised("the credit score is switched off")
        return snapshot

    def view(self, user_id: int, *, compute_missing: bool = True) -> ScoreView:
        """The score page: nothing of the score without consent (merchants' past checks stay
        listed: they are the user's record of who asked). A consenting user without a score
        yet (its computation failed after the switch) gets it computed now, unless
        `compute_missing` is False (operators only read)."""
        with self.db.read() as tx:
            consent = self._consent_in(tx, user_id)
            admissions = tuple(self.store.admissions_of(tx, user_id, ADMISSIONS_SHOWN_MAX))
            if not consent.scoring:
                return ScoreView(consent, None, (), admissions)
            current = self.store.snapshot(tx, user_id)
            history = tuple(self.store.history(tx, user_id, HISTORY_MAX))
        if current is None and compute_missing:
            current = self.refresh(user_id)
            history = () if current is None else ((current.period, current.score.total),)
        return ScoreView(consent, current, history, admissions)

    # Admission --------------------------------------------------------------------------------

    def admission(self, user_id: int, threshold: int) -> Admission:
        """Whether this user is admitted at `threshold` (for paybao's own features)."""
        check_threshold(threshold)
        return self.db.run(lambda tx: self._decide_in(tx, [user_id], threshold))

    def answer(self, query: AdmissionQuery) -> AdmissionRecord:
        """A merchant's admission query, answered once per (app, transaction_id)."""
        check_threshold(query.threshold)
        return self.db.run(lambda tx: self._answer_in(tx, query))

    def _answer_in(self, tx: Tx, query: AdmissionQuery) -> AdmissionRecord:
        earlier = self.store.admission(tx, query.app_id, query.transaction_id)
        if earlier is not None:
            return self._replay(earlier, query)
        admission = self._decide_in(tx, self._accounts_in(tx, query), query.threshold)
        record = AdmissionRecord(
            biz_no=self._biz_no(),
            app_id=query.app_id,
            merchant_id=query.merchant_id,
            transaction_id=query.transaction_id,
            fingerprint=query.fingerprint,
            user_id=admission.user_id,
            threshold=query.threshold,
            outcome=admission.outcome,
            reasons=admission.reasons,
            created_at_us=self.clock.now_us(),
        )
        if self.store.insert_admission(tx, record):
            return record
        # The same transaction_id raced in: its answer is the answer.
        found = self.store.admission(tx, query.app_id, query.transaction_id)
        assert found is not None
        return self._replay(found, query)

    def _replay(self, earlier: AdmissionRecord, query: AdmissionQuery) -> AdmissionRecord:
        if earlier.fingerprint != query.fingerprint:
            raise TransactionReused("this transaction_id was asked with other parameters")
        if self.clock.now_us() - earlier.created_at_us > self.policy.replay_s * US_PER_S:
            raise TransactionExpired("this transaction_id was answered more than a day ago")
        return earlier

    def _accounts_in(self, tx: Tx, query: AdmissionQuery) -> list[int]:
        """The accounts of the person asked about; none if the identity is not one we know."""
        if query.user_id is not None:
            return [query.user_id] if self.queries.user_exists(tx, query.user_id) else []
        if query.id_number is None:
            return []
        accounts = self.queries.accounts_of_id_number(tx, query.id_number, IDENTITY_ACCOUNTS_MAX)
        return [a.user_id for a in accounts if _same_name(a.real_name, query.name)]

    def _decide_in(self, tx: Tx, user_ids: Sequence[int], threshold: int) -> Admission:
        flags = self.queries.flags(tx, user_ids)
        candidates = []
        for user_id in user_ids:
            consented = self._consent_in(tx, user_id).admitting
            snapshot = self._latest_in(tx, user_id) if consented else None
            flag = flags.get(user_id, RiskFlags(False, False, False))
            candidates.append(
                Candidate(
                    user_id=user_id,
                    consented=consented,
                    total=snapshot.score.total if snapshot else None,
                    frozen=flag.frozen,
                    blacklisted=flag.blacklisted,
                    credit_overdue=flag.credit_overdue,
                )
            )
        return decide_admission(threshold, candidates)

    def _latest_in(self, tx: Tx, user_id: int) -> Snapshot | None:
        found = self.store.snapshot(tx, user_id)
        if found is not None:
            return found
        return self.score_user_in(tx, user_id, period_of(china_day(self.clock.now_us())))

    def _biz_no(self) -> str:
        """Zhima's reconciliation number: the China time to the second and 12 random digits."""
        stamp = china_datetime(self.clock.now_us()).strftime("%Y%m%d%H%M%S")
        return f"{stamp}{secrets.randbelow(10**12):012d}"


def _granted(consent: ConsentState, purpose: Purpose) -> bool:
    found = consent.score if purpose is Purpose.SCORE else consent.admission
    return found is not None and found.granted


def _same_name(real_name: str | None, asked: str | None) -> bool:
    if real_name is None or asked is None:
        return False
    try:
        return real_names_match(real_name, asked)
    except DomainError:  # a name that is no name matches nobody
        return False


def _periods_back(period: str, count: int) -> str:
    """The period `count` months before `period`."""
    year, month = parse_period(period)
    index = year * 12 + month - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def day_start_us_of(period: str) -> int:
    """00:00 China time on the period's run date (the 6th)."""
    return day_start_us(run_date(period))
