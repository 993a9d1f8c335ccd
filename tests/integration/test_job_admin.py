"""Dead background jobs for operators (services/job_admin.py), on SQLite and PostgreSQL: listed
newest first by kind and paged; a retry runs a dead job again (the runner claims it), audited;
a job that is not dead (e.g. retried already and waiting) is refused with `job_not_dead`, an
unknown one with `job_not_found`. The console page (/admin/jobs, linked from /admin/health)
and the REST API do the same; a viewer reads but may not retry. An async royalty settle whose
job died completes after a retry: its parts succeed and its notification is sent."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from gateway_support import call, make_buyer, make_shop
from job_admin_support import FLAKY, LAST_ERROR, dead_job, job_row, recorded_runs
from preauth_support import reconcile_clean
from royalty_support import BIND, SETTLE, bind_biz, paid_trade, part, receiver
from tests.integration.admin_support import csrf_of
from tests.integration.api_admin_support import audit_rows, error_code, token_operator
from tests.integration.test_gateway_notify import Merchant
from tests.integration.test_operator_roles import signed_in_as
from tests.integration.test_royalty_async import (
    async_biz,
    endpoint,  # noqa: F401 (a fixture)
    states,
)

from paybao.bootstrap import Platform
from paybao.domain.operator_roles import Role
from paybao.domain.royalty import PartState
from paybao.services import jobs as jobs_module
from paybao.services.job_admin import PAGE_SIZE_MAX, JobAdmin, JobNotDead, JobNotFound
from paybao.services.royalty import JOB_SETTLE, RoyaltyService, Settle
from paybao.web import pages_admin_jobs

API = "/api/v1/admin/jobs"


def job_admin(platform: Platform) -> JobAdmin:
    return JobAdmin.of(platform.jobs, platform.services["audit"])


def rows_of(html: str) -> list[tuple[int, str]]:
    found = re.findall(r'class="dead-job" data-job-id="(\d+)" data-kind="([^"]+)"', html)
    return [(int(job_id), kind) for job_id, kind in found]


# The service ----------------------------------------------------------------------------------


def test_dead_jobs_are_listed_newest_first_by_kind_a_page_at_a_time(platform: Platform) -> None:
    first, second, third = (dead_job(platform, f"k{n}") for n in range(3))
    other = dead_job(platform, "o1", kind="test.other")
    platform.db.run(
        lambda tx: platform.jobs.store.schedule(tx, FLAKY, "alive", 0, "{}", 0)
    )  # pending: not listed
    service = job_admin(platform)

    whole = service.dead_page()
    assert [job.id for job in whole.jobs] == [other, third, second, first]
    assert whole.next_before_id is None
    assert whole.jobs[0].last_error == LAST_ERROR and whole.jobs[0].status == "dead"
    page = service.dead_page(FLAKY, limit=2)
    assert [job.id for job in page.jobs] == [third, second] and page.next_before_id == second
    rest = service.dead_page(FLAKY, before_id=page.next_before_id, limit=2)
    assert [job.id for job in rest.jobs] == [first] and rest.next_before_id is None
    full_last = service.dead_page(FLAKY, before_id=second, limit=1)
    assert [job.id for job in full_last.jobs] == [first] and full_last.next_before_id is None
    assert service.dead_kinds() == [(FLAKY, 3), ("test.other", 1)]
    with pytest.raises(AssertionError):
        service.dead_page(limit=PAGE_SIZE_MAX + 1)


def test_a_retried_dead_job_is_claimed_by_the_runner_and_the_retry_is_audited(
    platform: Platform,
) -> None:
    job_id = dead_job(platform, "r1")
    ran = recorded_runs(platform)
    platform.jobs.run_due()
    assert ran == []  # dead: nothing runs it by itself

    revived = job_admin(platform).retry(job_id, None, actor="ops-test")

    assert (revived.status, revived.attempts) == ("pending", 0)
    assert revived.due_at_us <= platform.clock.now_us()
    (row,) = audit_rows(platform, "job.retry")
    assert (row.subject, row.operator_id, row.actor, row.outcome) == (
        f"job:{job_id}",
        None,
        "ops-test",
        "ok",
    )
    assert row.detail.startswith(f"{FLAKY} r1, dead after 25 attempts: ConnectionError")
    platform.jobs.run_due()
    assert ran == ["r1"]
    assert job_row(platform, job_id).status == "done"
    with pytest.raises(JobNotDead):  # done: it must not run again
        job_admin(platform).retry(job_id, None)


def test_a_job_that_is_not_dead_or_does_not_exist_is_refused_and_nothing_changes(
    platform: Platform,
) -> None:
    job_id = dead_job(platform, "twice")
    service = job_admin(platform)
    service.retry(job_id, None, actor="first")
    before = job_row(platform, job_id)

    with pytest.raises(JobNotDead) as again:  # a double click: the job runs once
        service.retry(job_id, None, actor="second")
    with pytest.raises(JobNotFound) as missing:
        service.retry(999_999, None, actor="third")

    assert again.value.code == "job_not_dead" and "pending" in again.value.message
    assert missing.value.code == "job_not_found"
    assert job_row(platform, job_id) == before
    assert [(r.actor, r.outcome) for r in audit_rows(platform, "job.retry")] == [
        ("first", "ok"),
        ("second", "job_not_dead"),
        ("third", "job_not_found"),
    ]


# The console page -----------------------------------------------------------------------------


def test_finance_retries_from_the_page_linked_from_health_and_a_second_click_is_refused(
    platform: Platform, client: TestClient
) -> None:
    job_id = dead_job(platform, "page1")
    other = dead_job(platform, "page2", kind="test.other")
    finance, operator_id = signed_in_as(platform, client, Role.FINANCE)
    assert 'href="/admin/jobs" id="dead-jobs-link"' in finance.get("/admin/health").text
    page = finance.get("/admin/jobs")
    assert rows_of(page.text) == [(other, "test.other"), (job_id, FLAKY)]
    assert LAST_ERROR in page.text and 'class="retry-job"' in page.text
    filtered = finance.get(f"/admin/jobs?kind={FLAKY}")
    assert rows_of(filtered.text) == [(job_id, FLAKY)]

    form = {"csrf_token": csrf_of(page.text), "kind": FLAKY}
    done = finance.post(f"/admin/jobs/{job_id}/retry", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/jobs?kind={FLAKY}&retried={job_id}"
    assert job_row(platform, job_id).status == "pending"
    (row,) = audit_rows(platform, "job.retry")
    assert (row.operator_id, row.subject) == (operator_id, f"job:{job_id}")
    shown = finance.get(done.headers["location"]).text
    assert 'id="retried"' in shown and rows_of(shown) == []

    again = finance.post(f"/admin/jobs/{job_id}/retry", data=form, follow_redirects=False)
    assert again.status_code == 409 and 'data-code="job_not_dead"' in again.text
    missing = finance.post("/admin/jobs/999999/retry", data=form, follow_redirects=False)
    assert missing.status_code == 404 and 'data-code="job_not_found"' in missing.text


def test_a_viewer_reads_the_page_without_the_button_and_may_not_retry(
    platform: Platform, client: TestClient
) -> None:
    job_id = dead_job(platform, "viewer1")
    viewer, _ = signed_in_as(platform, client, Role.VIEWER)
    page = viewer.get("/admin/jobs")
    assert rows_of(page.text) == [(job_id, FLAKY)] and 'class="retry-job"' not in page.text
    refused = viewer.post(
        f"/admin/jobs/{job_id}/retry",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and 'data-code="operator_role_forbidden"' in refused.text
    assert job_row(platform, job_id).status == "dead"
    assert audit_rows(platform, "job.retry")[-1].outcome == "operator_role_forbidden"


def test_the_page_pages_and_a_full_last_page_is_the_last(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = dead_job(platform, "p1"), dead_job(platform, "p2")
    viewer, _ = signed_in_as(platform, client, Role.VIEWER)
    monkeypatch.setattr(pages_admin_jobs, "PAGE_SIZE", 2)
    whole = viewer.get("/admin/jobs").text
    assert [r[0] for r in rows_of(whole)] == [second, first] and 'id="older"' not in whole
    monkeypatch.setattr(pages_admin_jobs, "PAGE_SIZE", 1)
    page = viewer.get("/admin/jobs").text
    assert [r[0] for r in rows_of(page)] == [second] and f'before={second}" id="older"' in page
    rest = viewer.get(f"/admin/jobs?before={second}").text
    assert [r[0] for r in rows_of(rest)] == [first] and 'id="older"' not in rest


# The admin REST API ---------------------------------------------------------------------------


def test_the_api_lists_dead_jobs_page_by_page_and_by_kind(
    platform: Platform, client: TestClient
) -> None:
    first, second = dead_job(platform, "a1"), dead_job(platform, "a2")
    other = dead_job(platform, "a3", kind="test.other")
    viewer = token_operator(platform, "viewer")

    page = client.get(API, params={"status": "dead", "limit": 2}, headers=viewer.headers).json()
    assert [job["job_id"] for job in page["jobs"]] == [other, second]
    assert page["next_before_id"] == second
    assert page["kinds"] == [{"kind": FLAKY, "dead": 2}, {"kind": "test.other", "dead": 1}]
    assert page["jobs"][1] | {"due_at_us": 0, "created_at_us": 0} == {
        "job_id": second,
        "kind": FLAKY,
        "key": "a2",
        "status": "dead",
        "attempts": 25,
        "last_error": LAST_ERROR,
        "due_at_us": 0,
        "created_at_us": 0,
    }
    rest = client.get(API, params={"before_id": second}, headers=viewer.headers).json()
    assert [job["job_id"] for job in rest["jobs"]] == [first] and rest["next_before_id"] is None
    by_kind = client.get(API, params={"kind": "test.other"}, headers=viewer.headers).json()
    assert [job["job_id"] for job in by_kind["jobs"]] == [other]

    pending = client.get(API, params={"status": "pending"}, headers=viewer.headers)
    too_many = client.get(API, params={"limit": PAGE_SIZE_MAX + 1}, headers=viewer.headers)
    assert (pending.status_code, error_code(pending)) == (400, "job_status_invalid")
    assert too_many.status_code == 422
    assert client.get(API).status_code == 401


def test_finance_retries_by_api_a_viewer_may_not_and_errors_have_stable_codes(
    platform: Platform, client: TestClient
) -> None:
    job_id = dead_job(platform, "api1")
    ran = recorded_runs(platform)
    viewer = token_operator(platform, "viewer", "ops.viewer")
    finance = token_operator(platform, "finance")

    refused = client.post(f"{API}/{job_id}/retry", headers=viewer.headers)
    assert (refused.status_code, error_code(refused)) == (403, "operator_role_forbidden")
    assert job_row(platform, job_id).status == "dead"

    done = client.post(f"{API}/{job_id}/retry", headers=finance.headers)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["attempts"]) == ("pending", 0)
    ok = [r for r in audit_rows(platform, "job.retry") if r.outcome == "ok"]
    assert [(r.operator_id, r.actor, r.subject) for r in ok] == [
        (finance.operator_id, "token:script", f"job:{job_id}")
    ]
    again = client.post(f"{API}/{job_id}/retry", headers=finance.headers)
    missing = client.post(f"{API}/999999/retry", headers=finance.headers)
    assert (again.status_code, error_code(again)) == (409, "job_not_dead")
    assert (missing.status_code, error_code(missing)) == (404, "job_not_found")
    platform.jobs.run_due()
    assert ran == ["api1"]


# The case that asked for it: an async royalty settle whose job died --------------------------


def test_an_async_settle_whose_job_died_completes_after_a_retry_and_is_notified(
    platform: Platform,
    client: TestClient,
    endpoint: tuple[str, type[Merchant]],  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, merchant = endpoint
    make_shop(platform, notify_url=url)
    buyer = make_buyer(platform, "13900000701", balance_fen=1_000_00)
    alice, bob = receiver(platform, "13900000702"), receiver(platform, "13900000703")
    assert call(client, BIND, bind_biz(alice, bob))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    biz = async_biz("dead1", trade_no, part(alice, "10.00"), part(bob, "5.00"))
    settle_no = call(client, SETTLE, biz)["settle_no"]
    royalty: RoyaltyService = platform.services["royalty"]
    run_part = royalty._execute_part

    def broken(settle: Settle, seq: int) -> PartState:
        raise RuntimeError("receiver ledger unavailable")

    monkeypatch.setattr(royalty, "_execute_part", broken)
    monkeypatch.setattr(jobs_module, "ATTEMPTS_MAX", 2)  # give up after two failures
    platform.jobs.run_due()
    platform.sandbox_clock.advance(60)  # the backoff: the second failure
    (dead,) = job_admin(platform).dead_page(JOB_SETTLE).jobs
    assert (dead.key, dead.attempts) == (settle_no, 2) and "receiver ledger" in str(dead.last_error)
    platform.sandbox_clock.advance(86_400)
    assert states(client, settle_no) == [("10.00", "PROCESSING", ""), ("5.00", "PROCESSING", "")]

    monkeypatch.setattr(royalty, "_execute_part", run_part)  # the cause is fixed
    finance = token_operator(platform, "finance")
    retried = client.post(f"{API}/{dead.id}/retry", headers=finance.headers)
    assert retried.status_code == 200, retried.text
    platform.jobs.run_due()  # the settle's parts, and its notification queued
    platform.jobs.run_due()  # the notification delivered

    assert states(client, settle_no) == [("10.00", "SUCCESS", ""), ("5.00", "SUCCESS", "")]
    (notified,) = [f for f in merchant.forms if f.get("msg_method", "").endswith("settle.notify")]
    assert settle_no in notified["biz_content"] and '"SUCCESS"' in notified["biz_content"]
    assert job_admin(platform).dead_page(JOB_SETTLE).jobs == []
    reconcile_clean(platform)
