"""`paybao jobs dead [--kind K] [--json]` and `paybao jobs retry JOB_ID` through Typer's runner
on the test database: dead jobs listed newest first, by kind, as text or JSON; a retry runs the
job again (the runner claims it), audited as actor `cli`; a second retry, or an unknown id,
exits 2 with the stable code."""

from __future__ import annotations

import json

from job_admin_support import FLAKY, LAST_ERROR, dead_job, job_row, recorded_runs
from tests.integration.api_admin_support import audit_rows
from tests.integration.test_cli import env  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.settings import Settings

runner = CliRunner()


def test_the_cli_lists_dead_jobs_by_kind_as_text_and_json(
    platform: Platform,
    env: Settings,  # noqa: F811 (the fixture imported above)
) -> None:
    first = dead_job(platform, "c1")
    other = dead_job(platform, "c2", kind="test.other")

    text = runner.invoke(app, ["jobs", "dead"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert [line.split("\t")[:5] for line in lines] == [
        [str(other), "test.other", "c2", "dead", "25"],
        [str(first), FLAKY, "c1", "dead", "25"],
    ]
    assert lines[1].endswith(LAST_ERROR)
    as_json = runner.invoke(app, ["jobs", "dead", "--kind", FLAKY, "--json"])
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.output)
    assert [job["id"] for job in listed["jobs"]] == [first] and listed["next_before_id"] is None
    assert listed["jobs"][0]["last_error"] == LAST_ERROR
    paged = runner.invoke(app, ["jobs", "dead", "--limit", "1"])
    assert paged.output.splitlines()[-1] == f"more: --before-id {other}"
    assert runner.invoke(app, ["jobs", "dead", "--kind", "nothing"]).output == "no dead jobs\n"
    assert runner.invoke(app, ["jobs", "dead", "--limit", "51"]).exit_code == 2


def test_the_cli_retries_a_dead_job_once_audited_as_cli(
    platform: Platform,
    env: Settings,  # noqa: F811 (the fixture imported above)
) -> None:
    job_id = dead_job(platform, "c3")
    ran = recorded_runs(platform)

    retried = runner.invoke(app, ["jobs", "retry", str(job_id)])

    assert retried.exit_code == 0, retried.output
    assert retried.output.split("\t")[:5] == [str(job_id), FLAKY, "c3", "pending", "0"]
    assert job_row(platform, job_id).status == "pending"
    again = runner.invoke(app, ["jobs", "retry", str(job_id)])
    missing = runner.invoke(app, ["jobs", "retry", "999999"])
    assert again.exit_code == 2 and "error: job_not_dead" in again.output
    assert missing.exit_code == 2 and "error: job_not_found" in missing.output
    assert [(r.actor, r.outcome) for r in audit_rows(platform, "job.retry")] == [
        ("cli", "ok"),
        ("cli", "job_not_dead"),
        ("cli", "job_not_found"),
    ]
    platform.jobs.run_due()
    assert ran == ["c3"]
