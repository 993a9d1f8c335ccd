"""`paybao jobs dead [--kind K] [--json]` and `paybao jobs retry JOB_ID`: the background jobs
that gave up, and running one again now with fresh attempts (services/job_admin.py), as the
console's /admin/jobs does; a retry is audited as actor `cli`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from paybao.bootstrap import build_platform
from paybao.domain.errors import DomainError
from paybao.services.clock import datetime_from_us
from paybao.services.job_admin import KIND_LENGTH_MAX, PAGE_SIZE_MAX, JobAdmin
from paybao.services.jobs import JobRow
from paybao.settings import load_settings

jobs_app = typer.Typer(help="Background jobs that gave up (dead), and retrying them.")
CLI_ACTOR = "cli"
ERROR_SHOWN = 120  # characters of the last error on a text line


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs", no_args_is_help=True)


def _line(job: JobRow) -> str:
    due = datetime_from_us(job.due_at_us).isoformat(timespec="seconds")
    error = (job.last_error or "-").replace("\n", " ")[:ERROR_SHOWN]
    return f"{job.id}\t{job.kind}\t{job.key}\t{job.status}\t{job.attempts}\t{due}\t{error}"


@jobs_app.command("dead")
def dead(
    kind: Annotated[str, typer.Option(help="Only this kind, e.g. royalty_settle")] = "",
    before_id: Annotated[int | None, typer.Option(min=1, help="Older than this job id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=PAGE_SIZE_MAX)] = PAGE_SIZE_MAX,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead jobs, newest first: id, kind, key, status, attempts, last due, last error."""
    platform = build_platform(load_settings())
    try:
        service = JobAdmin.of(platform.jobs, platform.services["audit"])
        page = service.dead_page(kind[:KIND_LENGTH_MAX], before_id=before_id, limit=limit)
    finally:
        platform.close()
    if as_json:
        rows = [asdict(job) for job in page.jobs]
        typer.echo(json.dumps({"jobs": rows, "next_before_id": page.next_before_id}))
        return
    for job in page.jobs:
        typer.echo(_line(job))
    if not page.jobs:
        typer.echo("no dead jobs")
    elif page.next_before_id is not None:
        typer.echo(f"more: --before-id {page.next_before_id}")


@jobs_app.command("retry")
def retry(job_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Run a dead job again now with fresh attempts (the worker claims it); audited."""
    platform = build_platform(load_settings())
    try:
        service = JobAdmin.of(platform.jobs, platform.services["audit"])
        job = service.retry(job_id, None, actor=CLI_ACTOR)
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        platform.close()
    typer.echo(_line(job))
