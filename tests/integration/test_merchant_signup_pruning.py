"""merchant_signups rows are pruned once they are older than the longest rate-limit window:
by a chain of jobs (kept scheduled by a sweep), at most a batch per transaction, a full batch
followed at once by the next. Rows inside a window stay and still count toward the limits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from tests.integration.test_merchant_signup_limits import PER_CONTACT, _advance, _public_key

from paybao.adapters.db.tables.merchant_portal import merchant_signups
from paybao.bootstrap import Platform
from paybao.domain.errors import RateLimited
from paybao.services.merchant_accounts import SignUp
from paybao.services.merchant_signups import JOB_PRUNE_SIGNUPS, SignUpPruning
from paybao.settings import Settings

US_PER_S = 1_000_000
DAY_S = 86_400


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "merchant_signups_per_contact_max": PER_CONTACT,
            "merchant_signup_ip_window_s": 3600,
            "merchant_signup_contact_window_s": DAY_S,
        }
    )


def add_rows(platform: Platform, ages_s: list[int], first_id: int = 1) -> None:
    """Sign-up rows made `age` seconds ago (merchant ids need no merchant: no foreign key)."""
    now_us = platform.clock.now_us()
    with platform.engine.begin() as connection:
        for n, age_s in enumerate(ages_s):
            connection.execute(
                insert(merchant_signups).values(
                    merchant_id=first_id + n,
                    client_ip=f"10.0.0.{n % 250}",
                    contact=f"c{first_id + n}@shop.example",
                    contact_key=f"c{first_id + n}@shop.example",
                    created_at_us=now_us - age_s * US_PER_S,
                )
            )


def rows(platform: Platform) -> int:
    with platform.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(merchant_signups)).scalar_one()
        )


def prune_jobs(platform: Platform) -> list[tuple[str, str]]:
    with platform.engine.connect() as connection:
        found = connection.execute(
            text("SELECT key, status FROM jobs WHERE kind = :kind ORDER BY id"),
            {"kind": JOB_PRUNE_SIGNUPS},
        )
        return [(str(key), str(status)) for key, status in found]


def pruning(platform: Platform) -> SignUpPruning:
    service: SignUpPruning = platform.services["signup_pruning"]
    return service


def merchant_ids(platform: Platform) -> list[int]:
    with platform.engine.connect() as connection:
        query = select(merchant_signups.c.merchant_id).order_by(merchant_signups.c.merchant_id)
        return [int(merchant_id) for merchant_id in connection.execute(query).scalars()]


def test_rows_past_the_longest_window_are_pruned_by_the_scheduled_job(platform: Platform) -> None:
    service = pruning(platform)
    assert service.keep_s == DAY_S  # the contact window; the address window is an hour
    assert service.interval_s == DAY_S
    platform.sandbox_clock.advance(1)  # the sweep schedules this period's job
    ((key, status),) = prune_jobs(platform)
    assert status == "pending"
    period_end_us = (int(key) + 1) * DAY_S * US_PER_S
    to_end_s = (period_end_us - platform.clock.now_us()) // US_PER_S
    # Ages as of the period's end, when the job runs: past the window (1, 2), inside (3, 4).
    add_rows(platform, [a - to_end_s for a in (3 * DAY_S, DAY_S + 60, DAY_S - 60, to_end_s + 10)])
    assert merchant_ids(platform) == [1, 2, 3, 4]

    platform.sandbox_clock.advance(to_end_s - 1)  # not yet due: nothing pruned
    assert merchant_ids(platform) == [1, 2, 3, 4]
    platform.sandbox_clock.advance(2)  # the period ends: the job runs, the next one waits
    assert merchant_ids(platform) == [3, 4]
    assert prune_jobs(platform) == [(key, "done"), (str(int(key) + 1), "pending")]

    platform.sandbox_clock.advance(DAY_S)  # the chain goes on: the next job prunes the rest
    assert merchant_ids(platform) == []
    assert [status for _, status in prune_jobs(platform)] == ["done", "done", "pending"]
    # A sweep asks again each pass: still one job per period.
    platform.sandbox_clock.advance(60)
    assert len(prune_jobs(platform)) == 3


def test_a_job_deletes_one_batch_and_a_full_batch_is_followed_at_once(
    platform: Platform,
) -> None:
    service = pruning(platform)
    service.batch_max = 3
    platform.sandbox_clock.advance(1)
    ((period, _),) = prune_jobs(platform)
    to_end_s = ((int(period) + 1) * DAY_S * US_PER_S - platform.clock.now_us()) // US_PER_S
    # At the period's end ids 1..8 are two days old (id 1 the oldest), 9 and 10 a minute.
    ages_s = [2 * DAY_S + 8 - n for n in range(8)] + [60, 60]
    add_rows(platform, [age_s - to_end_s for age_s in ages_s])
    assert platform.db.run(service.prune_in) == 3  # one batch per transaction, oldest first
    assert merchant_ids(platform) == [4, 5, 6, 7, 8, 9, 10]

    platform.sandbox_clock.advance(to_end_s + 1)  # the period's job, then follow-ups
    assert merchant_ids(platform) == [9, 10]  # inside the window
    assert sorted(prune_jobs(platform)) == [
        (period, "done"),  # 4..6: a full batch, so the next one at once
        (f"{period}#1", "done"),  # 7, 8: less than a batch, the follow-ups end
        (str(int(period) + 1), "pending"),
    ]


def test_pruning_never_frees_a_place_inside_the_window(platform: Platform) -> None:
    """A contact at its daily limit stays refused until its rows leave the window, pruning or
    not; then it may sign up again."""
    accounts = platform.services["merchant_accounts"]

    def sign_up(n: int) -> None:
        new = SignUp(f"店{n}", None, "shop-pass-2024", "owner@shop.example", f"10.1.0.{n}")
        accounts.sign_up(new, _public_key())

    for n in range(PER_CONTACT):
        sign_up(n)
    _advance(platform, 12 * 3600)
    platform.db.run(pruning(platform).prune_in)
    assert rows(platform) == PER_CONTACT
    with pytest.raises(RateLimited):
        sign_up(9)
    _advance(platform, 12 * 3600 + 1)
    assert platform.db.run(pruning(platform).prune_in) == PER_CONTACT
    sign_up(10)
    assert rows(platform) == 1
