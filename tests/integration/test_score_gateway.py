"""Merchants' admission through the gateway with real signed requests
(zhima.credit.score.brief.get): Y / N / N/A and nothing more, the risk checks, consent, the
transaction_id replayed for a day then spent, Alipay's parameter checks; and the races: one
transaction_id asked at once, revocation racing the monthly pass, two wakes of the pass at once."""

from __future__ import annotations

from credit_support import advance_to, next_month
from fastapi.testclient import TestClient
from gateway_support import call, make_shop
from score_support import BRIEF_GET, brief, person, score_of, switched_on
from sqlalchemy import func, select
from tests.integration.admin_support import create_operator
from tests.support.races import race_outcomes

from paybao.adapters.alipay.methods import user_wire_id
from paybao.adapters.db.tables.platform import jobs
from paybao.adapters.db.tables.score import score_admissions, score_snapshots
from paybao.bootstrap import Platform
from paybao.domain.fund import china_day
from paybao.domain.score import Purpose, next_period, period_of
from paybao.services.score import JOB_MONTH

RACERS = 6


def admissions(platform: Platform) -> int:
    with platform.db.read() as tx:
        return int(tx.execute(select(func.count()).select_from(score_admissions)).scalar_one())


def test_a_merchant_learns_y_n_or_na_and_never_the_score(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    alice = switched_on(platform, person(platform, "13800000201", "王小明", 5_000_00))
    total = score_of(platform).current(alice.user_id).score.total

    admitted = call(client, BRIEF_GET, brief("tx_1", alice, total))
    assert set(admitted) == {"code", "msg", "biz_no", "is_admittance"}
    assert (admitted["code"], admitted["is_admittance"]) == ("10000", "Y")
    assert len(admitted["biz_no"]) == 26
    below = call(client, BRIEF_GET, brief("tx_2", alice, str(total + 1)))  # a string is fine
    assert below["is_admittance"] == "N"
    by_user_id = brief("tx_3", None, 350, cert_type="ALIPAY_USER_ID", cert_no="")
    by_user_id["cert_no"] = user_wire_id(alice.user_id)
    assert call(client, BRIEF_GET, by_user_id)["is_admittance"] == "Y"

    # Cannot evaluate: a stranger, a wrong name, a passport, a user id that is none of ours.
    stranger = person(platform, "13800000202", "李四")
    assert call(client, BRIEF_GET, brief("tx_4", stranger))["is_admittance"] == "N/A"
    wrong_name = brief("tx_5", alice, name="王大明")
    assert call(client, BRIEF_GET, wrong_name)["is_admittance"] == "N/A"
    passport = brief("tx_6", alice, cert_type="PASSPORT", cert_no="E12345678")
    assert call(client, BRIEF_GET, passport)["is_admittance"] == "N/A"
    nobody = brief("tx_7", None, cert_type="ALIPAY_USER_ID", cert_no="2088999999999999")
    assert call(client, BRIEF_GET, nobody)["is_admittance"] == "N/A"

    # The user sees who asked about them (the shop's name), newest first; a query whose name
    # did not match named nobody.
    checks = score_of(platform).view(alice.user_id).admissions
    assert [c.transaction_id for c in checks] == ["tx_3", "tx_2", "tx_1"]
    assert checks[-1].merchant_name == "测试商户"
    page_user = TestClient(client.app)
    assert page_user.get("/wallet/score", follow_redirects=False).status_code in (302, 303)


def test_risk_checks_refuse_whatever_the_score(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    alice = switched_on(platform, person(platform, "13800000211", "王小明", 5_000_00))
    assert call(client, BRIEF_GET, brief("r_1", alice, 350))["is_admittance"] == "Y"
    operator_id, _ = create_operator(platform)
    operators = platform.services["operators"]
    operators.set_user_status(operator_id, alice.user_id, "frozen", "test: stolen phone")
    assert call(client, BRIEF_GET, brief("r_2", alice, 350))["is_admittance"] == "N"
    operators.set_user_status(operator_id, alice.user_id, "active", "test: owner back")
    platform.services["risk"].blacklist_add(alice.phone, "test: mule account", operator_id)
    assert call(client, BRIEF_GET, brief("r_3", alice, 350))["is_admittance"] == "N"
    reasons = [r.reasons for r in score_of(platform).view(alice.user_id).admissions]
    assert [[reason.value for reason in r] for r in reasons] == [
        ["blacklisted"],
        ["account_frozen"],
        [],
    ]


def test_consent_decides_and_is_checked_at_each_query(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    alice = person(platform, "13800000221", "王小明", 5_000_00)
    assert call(client, BRIEF_GET, brief("c_1", alice, 350))["is_admittance"] == "N/A"
    switched_on(platform, alice, admission=False)
    assert call(client, BRIEF_GET, brief("c_2", alice, 350))["is_admittance"] == "N/A"
    score_of(platform).grant(alice.user_id, Purpose.ADMISSION)
    assert call(client, BRIEF_GET, brief("c_3", alice, 350))["is_admittance"] == "Y"
    score_of(platform).revoke(alice.user_id, Purpose.SCORE)
    assert call(client, BRIEF_GET, brief("c_4", alice, 350))["is_admittance"] == "N/A"


def test_a_transaction_id_answers_again_for_a_day_then_is_spent(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    alice = switched_on(platform, person(platform, "13800000231", "王小明", 5_000_00))
    first = call(client, BRIEF_GET, brief("once_1", alice, 350))
    score_of(platform).revoke(alice.user_id, Purpose.ADMISSION)
    again = call(client, BRIEF_GET, brief("once_1", alice, 350))
    assert again == first  # the first answer, within the day
    changed = call(client, BRIEF_GET, brief("once_1", alice, 400))
    assert (changed["code"], changed["sub_code"]) == ("40004", "PAYBAO.TRANSACTION_ID_REUSED")
    platform.sandbox_clock.advance(86_401)
    spent = call(client, BRIEF_GET, brief("once_1", alice, 350))
    assert spent["sub_code"] == "PAYBAO.TRANSACTION_ID_EXPIRED"
    assert admissions(platform) == 1


def test_alipay_parameter_checks(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    alice = switched_on(platform, person(platform, "13800000241", "王小明"))
    bad = [
        brief("", alice),
        brief("has space", alice),
        brief("p_1", alice, product_code="w1010100100000000001"),
        brief("p_2", alice, cert_type="DRIVER_LICENSE"),
        brief("p_3", alice, threshold=349),
        brief("p_4", alice, threshold=951),
        brief("p_5", alice, threshold="six hundred"),
        brief("p_6", alice, threshold=True),
        brief("p_7", alice, cert_no="12345"),
        brief("p_8", alice, name=""),
        brief("p_9", alice, cert_no=""),
    ]
    for biz in bad:
        refused = call(client, BRIEF_GET, biz)
        assert (refused["code"], refused["sub_code"]) == ("40004", "INVALID_PARAMETER"), biz
    missing = dict(brief("p_10", alice))
    del missing["admittance_score"]
    assert call(client, BRIEF_GET, missing)["sub_code"] == "INVALID_PARAMETER"
    assert admissions(platform) == 0  # nothing asked, nothing kept


# Races ----------------------------------------------------------------------------------------


def test_one_transaction_id_asked_at_once_is_answered_once(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    alice = switched_on(platform, person(platform, "13800000251", "王小明", 5_000_00))
    answers: list[str] = []

    def ask(_: int) -> None:
        answers.append(call(client, BRIEF_GET, brief("race_1", alice, 350))["biz_no"])

    assert race_outcomes(RACERS, ask) == ["ok"] * RACERS
    assert len(set(answers)) == 1 and admissions(platform) == 1


def test_switching_off_while_the_pass_runs_leaves_no_score(platform: Platform) -> None:
    score = score_of(platform)
    alice = person(platform, "13800000261", "王小明", 1_000_00)
    period = period_of(china_day(platform.clock.now_us()))
    for round_no in range(4):
        score.grant(alice.user_id, Purpose.SCORE)
        target = next_period(period) if round_no % 2 else period

        def work(index: int, target: str = target) -> None:
            if index == 0:
                score.revoke(alice.user_id, Purpose.SCORE)
            else:
                score.score_user(alice.user_id, target)

        assert race_outcomes(3, work) == ["ok"] * 3
        with platform.db.read() as tx:
            query = select(func.count()).where(score_snapshots.c.user_id == alice.user_id)
            assert tx.execute(query).scalar_one() == 0, f"round {round_no}"


def test_two_wakes_of_the_pass_at_once_score_each_user_once(platform: Platform) -> None:
    users = [
        switched_on(platform, person(platform, f"1380000027{i}", "王小明"), admission=False)
        for i in range(4)
    ]
    months = platform.services["score_months"]
    year, month = next_month(platform)
    # The 6th without the scheduled wake: the racing wakes are the pass.
    with platform.db.write() as tx:
        tx.execute(jobs.delete().where(jobs.c.kind == JOB_MONTH))
    advance_to(platform, year, month, 6, 1)
    assert race_outcomes(RACERS, lambda _: months.on_wake()) == ["ok"] * RACERS
    period = f"{year:04d}-{month:02d}"
    with platform.db.read() as tx:
        query = select(score_snapshots.c.user_id).where(score_snapshots.c.period == period)
        scored = sorted(int(u) for (u,) in tx.execute(query))
    assert scored == sorted(u.user_id for u in users)
    state = months.state()
    assert (state.period, state.status, state.users_scored) == (period, "done", 4)
