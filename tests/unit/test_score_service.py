"""ScoreService and the monthly pass on an in-memory SQLite database (the real score, job and
audit stores; the facts, the identities and the users are fakes): consent first and revocable,
a snapshot on switching on and one per (user, period) from the pass on the 6th, the pass run
twice and in batches, old snapshots dropped, and merchants' admission queries answered once per
transaction_id (replayed for a day, then spent)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import StaticPool

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.database import SqlDatabase
from paybao.adapters.db.job_store import SqlJobStore
from paybao.adapters.db.score_store import SqlScoreStore
from paybao.adapters.db.tables import metadata
from paybao.adapters.db.tables.platform import jobs
from paybao.adapters.db.tables.score import score_admissions, score_snapshots
from paybao.adapters.db.tables.wallet import audit_log
from paybao.domain.errors import DomainError, NotFound
from paybao.domain.score import AdmissionReason, Outcome, Purpose, ScoreFacts
from paybao.services.audit import AuditTrail
from paybao.services.clock import ManualClock, us_from_datetime
from paybao.services.jobs import JobRunner
from paybao.services.score import (
    JOB_MONTH,
    AdmissionQuery,
    IdentityAccount,
    RiskFlags,
    ScorePolicy,
    ScoreService,
)
from paybao.services.score_months import DONE, ScoreMonths
from paybao.services.users import UserView

ALICE, BOB, CAROL, NEWCOMER = 11, 12, 13, 14
ID_NUMBER = "110101199003071234"
GOOD = ScoreFacts(
    account_class="III",
    account_age_days=800,
    payments=60,
    transfers=12,
    months_active=12,
    balance_fen=20_000_00,
    fund_fen=10_000_00,
    inflows_fen=50_000_00,
    credit_line=True,
    bills_on_time=10,
    counterparties=8,
)


def china(year: int, month: int, day: int, hour: int = 0) -> int:
    return us_from_datetime(datetime(year, month, day, hour, tzinfo=UTC)) - 8 * 3600 * 1_000_000


@dataclass
class Queries:
    facts_of: dict[int, ScoreFacts] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # the holders of ID_NUMBER
    flagged: dict[int, RiskFlags] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)

    def facts(self, tx: Any, user_id: int, now_us: int) -> ScoreFacts:
        self.asked.append(user_id)
        return self.facts_of.get(user_id, ScoreFacts(account_class="I"))

    def accounts_of_id_number(self, tx: Any, id_number: str, limit: int) -> list[IdentityAccount]:
        if id_number != ID_NUMBER:
            return []
        return [IdentityAccount(user_id, name) for user_id, name in self.names.items()][:limit]

    def user_exists(self, tx: Any, user_id: int) -> bool:
        return user_id in (ALICE, BOB, CAROL, NEWCOMER)

    def flags(self, tx: Any, user_ids: Sequence[int]) -> dict[int, RiskFlags]:
        return {u: self.flagged.get(u, RiskFlags(False, False, False)) for u in user_ids}


class Users:
    def get(self, user_id: int) -> UserView:
        if user_id not in (ALICE, BOB, CAROL, NEWCOMER):
            raise NotFound("no such user", code="user_not_found")
        step = "identity_pending" if user_id == NEWCOMER else "active"
        return UserView(user_id, "138****0000", "*小明", "active", "III", 1, step)


@dataclass
class World:
    db: SqlDatabase
    clock: ManualClock
    runner: JobRunner
    queries: Queries
    score: ScoreService
    months: ScoreMonths

    def run_jobs_until(self, at_us: int) -> None:
        """Move time job by job up to `at_us` (as the sandbox clock does)."""
        for _ in range(1000):
            due_us = self.runner.next_due_at_us()
            if due_us is None or due_us > at_us:
                break
            self.clock.set_us(max(due_us, self.clock.now_us()))
            self.runner.run_due()
        self.clock.set_us(at_us)

    def snapshots(self) -> list[tuple[int, str, int]]:
        with self.db.read() as tx:
            query = select(
                score_snapshots.c.user_id, score_snapshots.c.period, score_snapshots.c.total
            ).order_by(score_snapshots.c.user_id, score_snapshots.c.period)
            return [(int(u), str(p), int(t)) for u, p, t in tx.execute(query)]

    def month_jobs(self) -> list[tuple[str, str]]:
        with self.db.read() as tx:
            query = select(jobs.c.key, jobs.c.status).where(jobs.c.kind == JOB_MONTH)
            return sorted((str(k), str(s)) for k, s in tx.execute(query))

    def audit_details(self) -> list[str]:
        with self.db.read() as tx:
            query = select(audit_log.c.detail).where(audit_log.c.action == "score.consent")
            return [str(detail) for (detail,) in tx.execute(query.order_by(audit_log.c.id))]


def make_world(policy: ScorePolicy | None = None) -> tuple[World, Any]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    db = SqlDatabase(engine)
    clock = ManualClock(china(2026, 3, 3, 10))
    runner = JobRunner(db, SqlJobStore("sqlite"), clock)
    queries = Queries(facts_of={ALICE: GOOD})
    store = SqlScoreStore("sqlite")
    score = ScoreService(
        db=db,
        store=store,
        queries=queries,
        clock=clock,
        jobs=runner,
        users=Users(),
        audit=AuditTrail(db, SqlAdminStore(), clock),
        policy=policy or ScorePolicy(),
    )
    months = ScoreMonths(score, store)
    months.install_jobs()
    return World(db, clock, runner, queries, score, months), engine


@pytest.fixture
def world() -> Iterator[World]:
    made, engine = make_world()
    yield made
    engine.dispose()


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def query(transaction_id: str = "T1", threshold: int = 600, **values: Any) -> AdmissionQuery:
    base = AdmissionQuery(
        app_id="2021000000000777",
        merchant_id=5,
        transaction_id=transaction_id,
        fingerprint=f"{threshold}:{values.get('name', '王小明')}",
        threshold=threshold,
        id_number=ID_NUMBER,
        name="王小明",
    )
    return replace(base, **values)


# Consent ------------------------------------------------------------------------------------


def test_nothing_is_computed_or_shown_without_consent(world: World) -> None:
    score = world.score
    view = score.view(ALICE)
    assert (view.current, view.history, view.consent.scoring) == (None, (), False)
    assert code_of(lambda: score.current(ALICE)) == "score_not_authorised"
    assert score.refresh(ALICE) is None
    assert score.admission(ALICE, 600).outcome is Outcome.UNKNOWN
    assert world.queries.asked == [] and world.snapshots() == []
    # Admission needs the score on first; an unfinished registration cannot consent.
    assert code_of(lambda: score.grant(ALICE, Purpose.ADMISSION)) == "score_consent_required"
    assert code_of(lambda: score.grant(NEWCOMER, Purpose.SCORE)) == "registration_incomplete"


def test_switching_on_scores_at_once_for_the_current_period(world: World) -> None:
    state = world.score.grant(ALICE, Purpose.SCORE)
    assert state.scoring and not state.admitting
    # 3 March is before the 6th: the current period is February's.
    [(user_id, period, total)] = world.snapshots()
    assert (user_id, period) == (ALICE, "2026-02")
    current = world.score.current(ALICE)
    assert current.score.total == total and total > 700
    # The pass is scheduled for 00:00 China time on the next 6th.
    assert world.month_jobs() == [("2026-03@0", "pending")]
    assert world.score.grant(ALICE, Purpose.SCORE).scoring  # on twice is on
    assert world.snapshots() == [(ALICE, "2026-02", total)]
    assert world.audit_details() == ["grant score", "grant score"]


def test_switching_off_deletes_the_scores_and_ends_admission(world: World) -> None:
    score = world.score
    score.grant(ALICE, Purpose.SCORE)
    score.grant(ALICE, Purpose.ADMISSION)
    assert score.admission(ALICE, 600).outcome is Outcome.ADMITTED
    state = score.revoke(ALICE, Purpose.SCORE)
    assert (state.scoring, state.admitting) == (False, False)
    assert world.snapshots() == []
    assert score.view(ALICE).current is None
    refused = score.admission(ALICE, 600)
    assert (refused.outcome, refused.reasons) == (
        Outcome.UNKNOWN,
        (AdmissionReason.NOT_AUTHORISED,),
    )
    # Switched on again: scored again, admission stays off until asked for.
    again = score.grant(ALICE, Purpose.SCORE)
    assert again.scoring and not again.admitting
    assert [s[:2] for s in world.snapshots()] == [(ALICE, "2026-02")]
    assert world.audit_details()[-2:] == ["revoke score; 1 scores deleted", "grant score"]


def test_admission_alone_can_be_switched_off(world: World) -> None:
    score = world.score
    score.grant(ALICE, Purpose.SCORE)
    score.grant(ALICE, Purpose.ADMISSION)
    state = score.revoke(ALICE, Purpose.ADMISSION)
    assert state.scoring and not state.admitting
    assert score.admission(ALICE, 350).outcome is Outcome.UNKNOWN
    assert len(world.snapshots()) == 1  # the score itself stays


# The monthly pass ---------------------------------------------------------------------------


def test_the_pass_on_the_sixth_scores_consenting_users_once(world: World) -> None:
    score = world.score
    for user_id in (ALICE, BOB):
        score.grant(user_id, Purpose.SCORE)
    before = dict(((u, p), t) for u, p, t in world.snapshots())
    world.queries.facts_of[BOB] = GOOD  # Bob's month went well
    world.run_jobs_until(china(2026, 3, 6, 1))
    after = {(u, p): t for u, p, t in world.snapshots()}
    assert set(after) == {*before, (ALICE, "2026-03"), (BOB, "2026-03")}
    assert after[(BOB, "2026-03")] > before[(BOB, "2026-02")]
    assert CAROL not in world.queries.asked  # never switched on: never looked at
    state = world.months.state()
    assert state is not None and (state.period, state.status, state.users_scored) == (
        "2026-03",
        DONE,
        2,
    )
    # The pass run twice (a second wake, a redelivered job) scores nothing again.
    asked = len(world.queries.asked)
    world.months.on_wake()
    world.months.on_wake()
    assert {(u, p): t for u, p, t in world.snapshots()} == after
    assert len(world.queries.asked) == asked
    assert ("2026-04@0", "pending") in world.month_jobs()
    assert score.view(ALICE).history[0] == ("2026-03", after[(ALICE, "2026-03")])


def test_the_pass_goes_in_batches_and_skips_a_revoked_user() -> None:
    made, engine = make_world(ScorePolicy(batch_size=2))
    try:
        for user_id in (ALICE, BOB, CAROL):
            made.score.grant(user_id, Purpose.SCORE)
        made.score.revoke(BOB, Purpose.SCORE)
        made.run_jobs_until(china(2026, 3, 6, 1))
        march = sorted(u for u, p, _ in made.snapshots() if p == "2026-03")
        assert march == [ALICE, CAROL]
        keys = [key for key, _ in made.month_jobs()]
        assert "2026-03@0" in keys and "2026-04@0" in keys
        state = made.months.state()
        assert state is not None and state.status == DONE and state.users_scored == 2
    finally:
        engine.dispose()


def test_old_snapshots_are_dropped_past_the_kept_periods() -> None:
    made, engine = make_world(ScorePolicy(keep_periods=3))
    try:
        made.score.grant(ALICE, Purpose.SCORE)
        made.run_jobs_until(china(2026, 8, 6, 1))
        periods = [p for _, p, _ in made.snapshots()]
        assert periods == ["2026-06", "2026-07", "2026-08"]
    finally:
        engine.dispose()


def test_the_daily_sweep_revives_a_lost_chain(world: World) -> None:
    assert world.months.ensure_started() == 0
    assert world.month_jobs() == []  # nobody ever consented: nothing to wake
    world.score.grant(ALICE, Purpose.SCORE)
    with world.db.write() as tx:
        tx.execute(jobs.delete().where(jobs.c.kind == JOB_MONTH))
    world.clock.advance(86_400)
    world.months.ensure_started()
    assert world.month_jobs() == [("2026-03@0", "pending")]


# Admission ----------------------------------------------------------------------------------


def test_a_merchant_gets_y_n_or_na_and_nothing_else(world: World) -> None:
    score, queries = world.score, world.queries
    queries.names = {ALICE: "王小明"}
    assert score.answer(query("T0")).outcome is Outcome.UNKNOWN  # no consent yet
    score.grant(ALICE, Purpose.SCORE)
    score.grant(ALICE, Purpose.ADMISSION)
    admitted = score.answer(query("T1", 700))
    assert (admitted.outcome, admitted.user_id) == (Outcome.ADMITTED, ALICE)
    assert len(admitted.biz_no) == 26
    assert score.answer(query("T2", 950)).outcome is Outcome.REFUSED
    assert score.answer(query("T3", name="王大明")).outcome is Outcome.UNKNOWN
    assert score.answer(query("T4", id_number="110101199003070000")).outcome is Outcome.UNKNOWN
    assert score.answer(query("T5", id_number=None, user_id=ALICE)).outcome is Outcome.ADMITTED
    queries.flagged[ALICE] = RiskFlags(frozen=False, blacklisted=False, credit_overdue=True)
    overdue = score.answer(query("T6", 350))
    assert (overdue.outcome, overdue.reasons) == (
        Outcome.REFUSED,
        (AdmissionReason.CREDIT_OVERDUE,),
    )
    seen = [r.transaction_id for r in score.view(ALICE).admissions]
    assert seen == ["T6", "T5", "T2", "T1"]  # what the user sees: checks that named them


def test_a_transaction_id_replays_for_a_day_then_is_spent(world: World) -> None:
    score = world.score
    world.queries.names = {ALICE: "王小明"}
    score.grant(ALICE, Purpose.SCORE)
    score.grant(ALICE, Purpose.ADMISSION)
    first = score.answer(query("T1", 600))
    world.queries.flagged[ALICE] = RiskFlags(frozen=True, blacklisted=False, credit_overdue=False)
    world.clock.advance(3600)
    again = score.answer(query("T1", 600))
    assert again == first  # the first answer, not a new evaluation
    assert code_of(lambda: score.answer(query("T1", 650))) == "score_transaction_reused"
    world.clock.advance(86_400)
    assert code_of(lambda: score.answer(query("T1", 600))) == "score_transaction_expired"
    with world.db.read() as tx:
        count = tx.execute(select(func.count()).select_from(score_admissions)).scalar_one()
    assert count == 1
    assert code_of(lambda: score.answer(query("T9", 951))) == "score_threshold_invalid"
