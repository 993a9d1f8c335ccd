"""The crash test in CI: a bounded run on PostgreSQL with process kills, connections cut
mid-transaction and one PostgreSQL restart. It restarts the shared server, so `scripts/test`
runs it alone, after the parallel passes (marker `crash`)."""

from __future__ import annotations

import os

import pytest

from tests.reliability import crash

pytestmark = pytest.mark.crash


@pytest.mark.skipif(
    not os.environ.get("PAYBAO_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the crash test runs against PostgreSQL",
)
def test_no_money_lost_or_doubled_under_kills_and_database_faults() -> None:
    seconds = os.environ.get("PAYBAO_CRASH_SECONDS", "60")
    admin_url = os.environ["PAYBAO_TEST_DATABASE_URL"].rsplit("/", 1)[0]
    args = crash.parse_args(
        [
            "--seconds",
            seconds,
            "--clients",
            "6",
            "--buyers",
            "8",
            "--kill-interval-s",
            "4",
            "--terminate-backends",
            "--admin-url",
            admin_url,
        ]
        + (["--restart-db-once"] if os.geteuid() == 0 else [])
    )
    summary = crash.run(args)
    crash.print_summary(summary)
    assert summary["differences"] == []
    assert sum(summary["kills"].values()) >= 2, "the killer must actually have killed"
    succeeded = sum(row["ok"] for row in summary["operations"].values())
    assert succeeded >= 20, "the load must actually have run"
    assert summary["notifications_received"] > 0
