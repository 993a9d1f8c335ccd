"""`paybao ledger balance ACCOUNT_ID [--at TIME] [--json]` and `paybao ledger transfers
ACCOUNT_ID [--from TIME] [--to TIME] [--before-seq N] [--limit N] [--json]`: one ledger
account's posted balance at an instant and its transfers, newest first
(services/ledger_history.py), as the admin REST API and the console's ledger explorer show them.

TIME is ISO 8601 (2026-11-01T00:00:00+08:00); without a zone it is China time. Read-only.

`paybao ledger verify-chain [--anchor N:HASH]... [--json]` replays the journal's hash chain
from genesis (services/ledger_seals.py) and exits 1 on any difference; `paybao ledger seal`
seals the settled transfers now instead of waiting for the worker's sweep.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, NoReturn

import typer

from paybao.bootstrap import build_platform
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import DomainError
from paybao.domain.ledger_seal import HASH_HEX_CHARS
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.services.ledger_history import (
    TRANSFERS_PAGE_MAX,
    AccountTransfer,
    LedgerHistory,
    TransferRange,
    parse_time_us,
)
from paybao.services.ledger_seals import ANCHORS_MAX, ChainReport
from paybao.settings import load_settings
from paybao.wiring.ledger_history import ledger_history
from paybao.wiring.ledger_seals import ledger_seals

ledger_app = typer.Typer(
    help="One ledger account's past (balance at an instant, transfers); the journal's hash chain."
)
AccountId = Annotated[int, typer.Argument(min=1)]
AsJson = Annotated[bool, typer.Option("--json")]


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger", no_args_is_help=True)


def _china(at_us: int) -> str:
    return datetime_from_us(at_us).astimezone(CHINA_TZ).isoformat()


def _history() -> tuple[LedgerHistory, Callable[[], None]]:
    platform = build_platform(load_settings())
    return ledger_history(platform), platform.close


def _fail(error: DomainError) -> NoReturn:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(2)


@ledger_app.command("balance")
def balance(
    account_id: AccountId,
    at: Annotated[str, typer.Option(help="ISO 8601 time; default now")] = "",
    as_json: AsJson = False,
) -> None:
    """The posted balance just before --at (transfers created at or after it do not count;
    a hold counts only through its post), beside the posted balance now."""
    history, close = _history()
    try:
        found = history.balance_at(account_id, parse_time_us(at) if at else None)
    except DomainError as error:
        _fail(error)
    finally:
        close()
    if as_json:
        typer.echo(json.dumps({**asdict(found), "at": _china(found.at_us)}))
        return
    typer.echo(f"account {found.account_id} at {_china(found.at_us)}")
    typer.echo(f"posted balance {format_yuan(found.balance_fen)} ({found.balance_fen} fen)")
    typer.echo(f"posted now     {format_yuan(found.balance_now_fen)} ({found.balance_now_fen} fen)")


def _line(transfer: AccountTransfer) -> str:
    sign = "-" if transfer.direction == "debit" else "+"
    state = transfer.pending_status or ("posted" if transfer.pending_id is None else "")
    flags = ",".join(transfer.flag_names) or "-"
    return (
        f"{transfer.seq}\t{_china(transfer.created_at_us)}\t{transfer.id}\t{transfer.direction}"
        f"\t#{transfer.other_account_id}\t{sign}{transfer.amount_fen}\t{transfer.code}"
        f"\t{flags}\t{state}\t{transfer.reference}"
    )


@ledger_app.command("transfers")
def transfers(
    account_id: AccountId,
    from_text: Annotated[str, typer.Option("--from", help="ISO 8601; created at or after")] = "",
    to_text: Annotated[str, typer.Option("--to", help="ISO 8601; created before")] = "",
    before_seq: Annotated[int | None, typer.Option(min=1, help="Older than this seq")] = None,
    limit: Annotated[int, typer.Option(min=1, max=TRANSFERS_PAGE_MAX)] = TRANSFERS_PAGE_MAX,
    as_json: AsJson = False,
) -> None:
    """The account's transfers, newest first: seq, time (China), id, direction, the other
    account, signed amount in fen, code, flags, status, reference."""
    history, close = _history()
    try:
        wanted = TransferRange(
            parse_time_us(from_text) if from_text else None,
            parse_time_us(to_text) if to_text else None,
            before_seq,
            limit,
        )
        page = history.transfers(account_id, wanted)
    except DomainError as error:
        _fail(error)
    finally:
        close()
    if as_json:
        rows = [
            {**asdict(t), "flags": t.flag_names, "posted_change_fen": t.posted_change_fen}
            for t in page.transfers
        ]
        typer.echo(json.dumps({"transfers": rows, "next_before_seq": page.next_before_seq}))
        return
    for transfer in page.transfers:
        typer.echo(_line(transfer))
    if not page.transfers:
        typer.echo("no transfers")
    elif page.next_before_seq is not None:
        typer.echo(f"more: --before-seq {page.next_before_seq}")


# Seal at most this many blocks per `paybao ledger seal` (5,000 transfers each).
SEAL_BLOCKS_MAX = 1_000


def _anchor(text: str) -> tuple[int, str]:
    block_text, _, hash_text = text.partition(":")
    if not block_text.isdigit() or len(hash_text) != HASH_HEX_CHARS:
        raise typer.BadParameter(f"{text!r}: expected BLOCK_NO:HASH (64 hex digits)")
    try:
        bytes.fromhex(hash_text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: the hash is not hex") from None
    return int(block_text), hash_text.lower()


def _chain_json(report: ChainReport) -> str:
    return json.dumps(
        {
            "clean": report.clean,
            "blocks_checked": report.blocks_checked,
            "transfers_checked": report.transfers_checked,
            "head": {
                "block_no": report.head_block_no,
                "hash": report.head_hash,
                "to_seq": report.head_to_seq,
            },
            "unsealed_count": report.unsealed_count,
            "differences": [f._asdict() for f in report.findings],
            "differences_total": report.findings_total,
        }
    )


@ledger_app.command("verify-chain")
def verify_chain(
    anchors: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor", help="BLOCK_NO:HASH noted earlier (e.g. from a past run); repeatable"
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Replay the journal's hash chain from genesis: every block's hash over its transfers,
    the links between blocks, transfers inside sealed ranges that no block holds, transfers
    left unsealed too long. Prints the head hash (note it somewhere else: a later run with
    --anchor then also catches a chain rewritten from that block on). Exit 1 on a difference."""
    wanted = dict(_anchor(text) for text in anchors or [])
    if len(wanted) > ANCHORS_MAX:
        raise typer.BadParameter(f"at most {ANCHORS_MAX} anchors")
    platform = build_platform(load_settings())
    try:
        report = ledger_seals(platform).verify(wanted)
    finally:
        platform.close()
    if as_json:
        typer.echo(_chain_json(report))
    else:
        typer.echo(f"blocks {report.blocks_checked}, transfers checked {report.transfers_checked}")
        typer.echo(
            f"head block {report.head_block_no} {report.head_hash} (to seq {report.head_to_seq})"
        )
        typer.echo(f"unsealed transfers {report.unsealed_count}")
        for finding in report.findings:
            typer.echo(f"  - {finding.line()}")
        if report.findings_total > len(report.findings):
            typer.echo(f"  ... {report.findings_total - len(report.findings)} more")
        typer.echo("clean" if report.clean else f"{report.findings_total} difference(s)")
    raise typer.Exit(0 if report.clean else 1)


@ledger_app.command("seal")
def seal(
    blocks: Annotated[int, typer.Option(min=1, max=SEAL_BLOCKS_MAX)] = SEAL_BLOCKS_MAX,
) -> None:
    """Seal the settled transfers now (those older than the horizon), full blocks or not,
    instead of waiting for the worker's sweep. Prints what it sealed and the new head."""
    platform = build_platform(load_settings())
    try:
        seals = ledger_seals(platform)
        sealed = seals.seal_now(blocks)
        head = seals.head()
    finally:
        platform.close()
    typer.echo(f"sealed {sealed} transfer(s)")
    typer.echo(f"head block {head.block_no} {head.hash} (to seq {head.to_seq})")
    typer.echo(f"unsealed transfers {head.unsealed_count}")
