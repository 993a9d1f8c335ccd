"""Concurrent checks of one SMS code: every wrong guess counts (the fifth burns the code, so
parallel guessing gets no more than five tries), and a right code is used exactly once. On
PostgreSQL both need the challenge row locked while it is checked; SQLite serialises writers."""

from __future__ import annotations

import re

from sqlalchemy import select
from tests.support.races import at_once

from paybao.adapters.db.tables.wallet import sms_challenges, sms_outbox
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError

PHONE = "13700137000"
PURPOSE = "register"
RACERS = 12


def _code(platform: Platform) -> str:
    with platform.engine.connect() as connection:
        text = connection.execute(
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == PHONE)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        ).scalar_one()
    found = re.search(r"\d{6}", str(text))
    assert found is not None
    return found.group(0)


def _tries_wrong(platform: Platform) -> int:
    with platform.engine.connect() as connection:
        return int(
            connection.execute(
                select(sms_challenges.c.tries_wrong).where(sms_challenges.c.phone == PHONE)
            ).scalar_one()
        )


def test_parallel_wrong_guesses_each_count_and_burn_the_code(platform: Platform) -> None:
    sms = platform.services["sms"]
    sms.send_code(PHONE, PURPOSE)
    right = _code(platform)
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, RACERS + 1)]
    results = at_once([lambda guess=guess: sms.verify(PHONE, PURPOSE, guess) for guess in wrong])
    codes = sorted(r.code for r in results if isinstance(r, DomainError))
    assert len(codes) == RACERS
    assert codes.count("sms_code_wrong") == 5  # the policy's tries; the rest find it burned
    assert codes.count("sms_code_burned") == RACERS - 5
    assert _tries_wrong(platform) == 5
    results = at_once([lambda: sms.verify(PHONE, PURPOSE, right)])
    assert [r.code for r in results if isinstance(r, DomainError)] == ["sms_code_burned"]


def test_a_right_code_checked_in_parallel_is_used_once(platform: Platform) -> None:
    sms = platform.services["sms"]
    sms.send_code(PHONE, PURPOSE)
    right = _code(platform)
    results = at_once([lambda: sms.verify(PHONE, PURPOSE, right) for _ in range(8)])
    refused = [r.code for r in results if isinstance(r, DomainError)]
    assert len(results) - len(refused) == 1
    assert refused == ["sms_code_used"] * 7
