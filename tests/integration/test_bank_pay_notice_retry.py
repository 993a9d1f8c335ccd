"""The sandbox bank sends its notice again while paybao does not answer `success` (SQLite, or
PostgreSQL by URL): a notice lost once is taken on its retry; a paybao that never answers gets
five deliveries in all, then the bank stops, and paybao's own query job credits the top-up; a
notice taken at once is not sent again."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.topup_channel_support import (
    Notices,
    balance,
    bound_card_number,
    funded_user,
    pay_at_bank,
    signed_in,
)

from paybao.adapters.banks.sandbox_bank_pay import JOB_NOTICE, NOTICE_RETRY_S
from paybao.adapters.db.tables.platform import jobs
from paybao.bootstrap import Platform

PHONE = "13900139701"


class Unreachable(Notices):
    """paybao does not answer the first `failures` deliveries (down, or the answer lost)."""

    def __init__(self, platform: Platform, client: TestClient, failures: int) -> None:
        super().__init__(platform, client)
        self.failures = failures
        self.attempts: list[int] = []  # the bank's clock at each delivery
        self.platform = platform

    def deliver(self, url: str, form: Mapping[str, str]) -> bool:
        self.attempts.append(self.platform.clock.now_us())
        if len(self.attempts) <= self.failures:
            return False
        return super().deliver(url, form)


def _pay(platform: Platform, client: TestClient, amount_fen: int) -> tuple[int, int]:
    person = funded_user(platform, PHONE, "王五")
    topup, url = platform.services["bank_pay_topups"].start(person.user_id, "ICBC", amount_fen)
    # The browser never comes back from the bank (no return page asks the bank).
    pay_at_bank(signed_in(client, PHONE), url, bound_card_number(platform, person))
    return person.user_id, topup.id


def _gaps_s(times_us: list[int]) -> list[int]:
    """Seconds between deliveries, to the nearest: the sandbox clock also runs with the wall
    clock, and the first retry is scheduled when the payment commits, a few milliseconds before
    the first delivery is made (so that a crash between the two still leaves the retry)."""
    return [
        (later - earlier + 500_000) // 1_000_000 for earlier, later in itertools.pairwise(times_us)
    ]


# The sandbox clock runs with the wall clock, so on a loaded machine a gap drifts from its
# backoff by the seconds that pass while jobs run: longer when an advance's jobs run slowly, and
# the first one shorter when the first delivery comes late after the commit that scheduled the
# retry (CI saw 902 s for 900 and 13 s for 15). The backoffs (15, 60, 300, 900 s) stay told apart.
WALL_SLACK_S = 5


def _assert_backoff(times_us: list[int], expected_s: list[int]) -> None:
    gaps_s = _gaps_s(times_us)
    assert len(gaps_s) == len(expected_s), (gaps_s, expected_s)
    for gap_s, backoff_s in zip(gaps_s, expected_s, strict=True):
        assert abs(gap_s - backoff_s) <= WALL_SLACK_S, (gaps_s, expected_s)


def _notice_jobs(platform: Platform) -> list[str]:
    with platform.engine.connect() as connection:
        query = select(jobs.c.status).where(jobs.c.kind == JOB_NOTICE)
        return list(connection.execute(query).scalars())


def test_a_notice_paybao_missed_is_taken_on_its_retry(
    platform: Platform, client: TestClient
) -> None:
    notices = Unreachable(platform, client, failures=1)
    user_id, topup_id = _pay(platform, client, 60_00)
    assert len(notices.attempts) == 1 and balance(platform, user_id) == 0
    platform.sandbox_clock.advance(NOTICE_RETRY_S[0])  # before the query job's 120 s
    done = platform.services["bank_pay_topups"].topup(user_id, topup_id)
    assert (done.status, done.confirmed_by) == ("succeeded", "notice")
    assert notices.answers == [(200, "success")] and balance(platform, user_id) == 60_00
    _assert_backoff(notices.attempts, [NOTICE_RETRY_S[0]])
    platform.sandbox_clock.advance(3600)
    assert len(notices.attempts) == 2  # taken: never sent again
    assert balance(platform, user_id) == 60_00


def test_a_paybao_that_never_answers_gets_five_deliveries_and_its_query_job_credits(
    platform: Platform, client: TestClient
) -> None:
    notices = Unreachable(platform, client, failures=100)
    user_id, topup_id = _pay(platform, client, 70_00)
    platform.sandbox_clock.advance(2 * 3600)
    done = platform.services["bank_pay_topups"].topup(user_id, topup_id)
    assert (done.status, done.confirmed_by) == ("succeeded", "query")
    assert len(notices.attempts) == 1 + len(NOTICE_RETRY_S)
    _assert_backoff(notices.attempts, list(NOTICE_RETRY_S))  # the backoff, in order
    platform.sandbox_clock.advance(24 * 3600)
    assert len(notices.attempts) == 1 + len(NOTICE_RETRY_S)  # bounded: the bank gave up
    assert _notice_jobs(platform) == ["done"]
    assert balance(platform, user_id) == 70_00


def test_a_notice_taken_at_once_leaves_no_retry(platform: Platform, client: TestClient) -> None:
    notices = Unreachable(platform, client, failures=0)
    user_id, _ = _pay(platform, client, 80_00)
    assert notices.answers == [(200, "success")]
    assert _notice_jobs(platform) == ["cancelled"]
    platform.sandbox_clock.advance(3600)
    assert len(notices.attempts) == 1 and balance(platform, user_id) == 80_00
