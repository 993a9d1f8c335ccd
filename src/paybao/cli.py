"""The `paybao` command: serve, worker, db, demo, reconcile, clock, bench."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from typing import Annotated

import typer

from paybao import cli_credit, cli_db, cli_merchant, cli_preflight, cli_wallet
from paybao.bootstrap import Platform, build_platform
from paybao.domain.errors import DomainError, InvalidInput
from paybao.services.clock import datetime_from_us, parse_duration_s
from paybao.settings import load_settings

app = typer.Typer(help="paybao: a self-hostable payment platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
clock_app = typer.Typer(help="Platform time (moves only in sandbox mode).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(clock_app, name="clock")
app.add_typer(bench_app, name="bench")
cli_wallet.register(app)
cli_credit.register(app)
cli_db.register(db_app)  # db status, backup, verify-backup, restore
cli_preflight.register(app)  # preflight [--json]


def _platform(migrate: bool = False) -> Platform:
    return build_platform(load_settings(), migrate=migrate)


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(2)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies whose X-Forwarded-For/-Proto to trust (comma-separated IPs or"
            " networks, * for any); default uvicorn's: $FORWARDED_ALLOW_IPS or 127.0.0.1,::1",
        ),
    ] = None,
) -> None:
    """Serve the platform (REST API, gateway, pages); runs the background worker too."""
    import uvicorn

    uvicorn.run(
        "paybao.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        limit_concurrency=2048,
        timeout_keep_alive=5,
        # A worker that is still importing on a busy machine is not dead: uvicorn's default
        # (5 s) kills slow starters in a loop.
        timeout_worker_healthcheck=60,
        timeout_graceful_shutdown=15,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@app.command()
def worker() -> None:
    """Run due jobs and sweeps until interrupted."""
    from paybao.workers.runner import run_forever

    platform = _platform()
    stop = threading.Event()
    try:
        run_forever(platform, stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        platform.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (SQLite or PostgreSQL, by PAYBAO_DATABASE_URL)."""
    platform = _platform(migrate=True)
    typer.echo(f"database at head ({platform.db.dialect})")
    platform.close()


@app.command()
def demo() -> None:
    """Seed demo data (idempotent: running it twice changes nothing)."""
    from paybao.demo import seed

    settings = load_settings()
    if settings.bank_provider != "sandbox":
        # Demo users' cards, and the money on them, exist only at the sandbox bank.
        _fail(
            InvalidInput(
                "demo data needs the sandbox bank: unset PAYBAO_BANK_PROVIDER",
                code="demo_needs_sandbox_bank",
            )
        )
    platform = build_platform(settings, migrate=True)
    try:
        for line in seed(platform):
            typer.echo(line)
    finally:
        platform.close()


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    day: Annotated[
        str, typer.Option("--date", help="China day yyyy-MM-dd; default: the last ended day")
    ] = "",
) -> None:
    """Check every money invariant on the live database; exit 1 on any difference."""
    from datetime import date

    platform = _platform()
    try:
        report = platform.reconcile.run(date.fromisoformat(day) if day else None)
        # The seal's head, not a replay (`paybao ledger verify-chain` replays it).
        chain = platform.services["ledger_seals"].head()
    finally:
        platform.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "clean": report.clean,
                    "checks": report.totals,
                    "differences": [_diff(d) for d in report.differences],
                    "day": str(report.day),
                    "class_totals": report.class_totals,
                    "ledger_chain": dataclasses.asdict(chain),
                }
            )
        )
    else:
        for name in report.checks_run:
            count = report.totals[name]
            typer.echo(f"{'ok ' if count == 0 else 'BAD'} {name}: {count} difference(s)")
        for difference in report.differences:
            typer.echo(f"  - {difference.line()}")
        for name, total_fen in report.class_totals.items():
            typer.echo(f"    {name}: {total_fen} fen")
        typer.echo(
            f"ledger chain: block {chain.block_no} {chain.hash}, {chain.unsealed_count}"
            " transfer(s) not sealed yet (paybao ledger verify-chain replays it)"
        )
        typer.echo("clean" if report.clean else f"{len(report.differences)} difference(s)")
    raise typer.Exit(0 if report.clean else 1)


def _diff(difference: object) -> dict[str, str]:
    names = ("kind", "subject", "expected", "actual")
    return {name: str(getattr(difference, name)) for name in names}


@clock_app.command("show")
def clock_show() -> None:
    """Print platform time and how far it runs ahead of the wall clock."""
    platform = _platform()
    try:
        offset_s = platform.clock.offset_us(fresh=True) / 1_000_000
        typer.echo(f"platform time {datetime_from_us(platform.clock.now_us()).isoformat()}")
        typer.echo(
            f"offset {offset_s:.0f} s; sandbox {'on' if platform.settings.sandbox else 'off'}"
        )
    finally:
        platform.close()


@clock_app.command("advance")
def clock_advance(duration: str) -> None:
    """Move platform time forward (e.g. 10d, 2h) and run every timer that falls due."""
    platform = _platform()
    try:
        report = platform.sandbox_clock.advance(parse_duration_s(duration))
    except DomainError as error:
        _fail(error)
        return
    finally:
        platform.close()
    typer.echo(
        f"platform time {datetime_from_us(report.to_us).isoformat()}:"
        f" {report.jobs_run} job(s) run, {report.swept} swept"
    )


@bench_app.command("ledger")
def bench_ledger(
    database_url: Annotated[str, typer.Option(help="SQLAlchemy URL; default: settings")] = "",
    seconds: Annotated[float, typer.Option(min=0.5, max=3600)] = 10.0,
    submitters: Annotated[int, typer.Option(min=1, max=4096)] = 256,
    single_threads: Annotated[int, typer.Option(min=1, max=64)] = 2,
    accounts: Annotated[int, typer.Option(min=2, max=1_000_000)] = 10_000,
    processes: Annotated[
        int, typer.Option(min=0, max=64, help="0: 1 on SQLite, 2 on PostgreSQL")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Measure one transfer per commit and group commit on the database the URL names."""
    from paybao.bench_ledger import format_table, run_benchmark

    url = database_url or load_settings().resolved_database_url()
    result = run_benchmark(
        url,
        seconds=seconds,
        submitters=submitters,
        single_threads=single_threads,
        accounts=accounts,
        processes=processes,
    )
    typer.echo(json.dumps(result) if as_json else format_table(result))


cli_merchant.register(app, bench_app)  # merchant, keys, bench gateway


def _register_fund() -> None:
    from paybao import cli_fund

    cli_fund.register(app)  # fund publish-rate, fund rates


_register_fund()


def _register_billpay() -> None:
    from paybao import cli_billpay

    cli_billpay.register(app)  # biller create, list, disable, enable


_register_billpay()


def _register_transit() -> None:
    from paybao import cli_transit

    cli_transit.register(app)  # transit reader verify, transit reader sync


_register_transit()


def _register_jobs() -> None:
    from paybao import cli_jobs

    cli_jobs.register(app)  # jobs dead [--kind K] [--json], jobs retry JOB_ID


_register_jobs()


def _register_ledger() -> None:
    from paybao import cli_ledger

    cli_ledger.register(app)  # ledger balance ACCOUNT_ID [--at T], ledger transfers ACCOUNT_ID


_register_ledger()


def _register_aes() -> None:
    from paybao import cli_aes

    cli_aes.register()  # merchant aes-key --app-id ID [--reset] [--bits 256] [--json]


_register_aes()


def _register_certs() -> None:
    from paybao import cli_certs

    cli_certs.register()  # merchant cert --app-id ID --out DIR, merchant cert-list, cert-revoke


_register_certs()


def _register_bank_sim() -> None:
    @app.command("bank-sim")
    def bank_sim(
        port: int = 8700,
        host: str = "127.0.0.1",
        database: str = "./var/bank-sim.sqlite3",
        allow_script: bool = False,
        answer_delay_s: float = 15.0,
    ) -> None:
        """The reference bank bridge (docs/bank-protocol.md) on the sandbox bank's tables in
        its own SQLite file; the secret is PAYBAO_BANK_SECRET or PAYBAO_BANK_SECRET_FILE."""
        from paybao.adapters.banks import http_sim

        secret = http_sim.secret_from_environment()
        if len(secret) < 32:
            typer.echo("error: set PAYBAO_BANK_SECRET (at least 32 characters)", err=True)
            raise typer.Exit(2)
        http_sim.run(
            host,
            port,
            database,
            secret,
            allow_script=allow_script,
            answer_delay_s=answer_delay_s,
        )


_register_bank_sim()


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        sys.exit(2)
