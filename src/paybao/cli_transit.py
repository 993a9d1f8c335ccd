"""`paybao transit reader verify|sync`: a transit gate on the command line.

* `verify --keys FILE --blacklist FILE CODE` checks a ride code exactly as a gate does, with no
  network and no database: the issuer keys and the blacklist it was given (the JSON that
  `alipay.commerce.transport.offlinepay.key.query` and `.userblacklist.query` answer, or what
  `sync` wrote). It prints ACCEPTED or REFUSED with the reason; exit 0, 1 when refused, 2 when
  the files are unusable.
* `sync --app-id APP` writes those two files for an operator from this platform's database (on
  the paybao host; a remote gate downloads the same with the gateway methods).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from paybao.adapters.transit_crypto import verify
from paybao.domain.errors import DomainError
from paybao.domain.money import format_yuan
from paybao.domain.transit import (
    CLOCK_SKEW_S_DEFAULT,
    CLOCK_SKEW_S_MAX,
    CODE_VALID_S,
    CODE_VALID_S_MAX,
    CODE_VALID_S_MIN,
    CodeRefused,
    ReaderView,
    verify_code,
)

transit_app = typer.Typer(help="Transit ride codes.", no_args_is_help=True)
reader_app = typer.Typer(help="A transit gate: offline verification.", no_args_is_help=True)
transit_app.add_typer(reader_app, name="reader")
FILE_BYTES_MAX = 64 * 1024 * 1024  # a blacklist of a few million ids at most
KEYS_MAX = 100
BLACKLIST_PAGE_SIZE = 500
BLACKLIST_PAGES_MAX = 20_000  # 10 million users


def register(app: typer.Typer) -> None:
    app.add_typer(transit_app, name="transit")


class FileUnusable(Exception):
    pass


@reader_app.command("verify")
def reader_verify(
    code: Annotated[str, typer.Argument(help="The ride code as scanned (PBT1...).")],
    keys: Annotated[Path, typer.Option(help="Issuer keys: key.query's answer (JSON).")],
    blacklist: Annotated[Path, typer.Option(help="userblacklist.query's answer (JSON).")],
    app_id: Annotated[
        str | None, typer.Option(help="The gate's operator (default: the keys file's app_id).")
    ] = None,
    at: Annotated[int | None, typer.Option(help="Scan time, unix s (default: now).")] = None,
    skew_s: Annotated[
        int, typer.Option(min=0, max=CLOCK_SKEW_S_MAX, help="Clock difference allowed.")
    ] = CLOCK_SKEW_S_DEFAULT,
    code_valid_s: Annotated[
        int, typer.Option(min=CODE_VALID_S_MIN, max=CODE_VALID_S_MAX, help="Code age allowed.")
    ] = CODE_VALID_S,
) -> None:
    """Check a ride code offline; exit 1 when the gate would refuse it."""
    try:
        operator, issuer_keys = _read_keys(keys, app_id)
        listed = _read_blacklist(blacklist)
    except FileUnusable as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    view = ReaderView(operator, issuer_keys, listed, skew_s, code_valid_s)
    now_s = at if at is not None else int(time.time())
    try:
        ride_code = verify_code(code.strip(), view, now_s, verify)
    except CodeRefused as refusal:
        typer.echo(f"REFUSED {refusal.code}: {refusal.message}")
        raise typer.Exit(1) from None
    cert = ride_code.certificate
    typer.echo(
        f"ACCEPTED user {cert.user_id} · certificate valid until {cert.valid_until_s}"
        f" · credit {format_yuan(cert.credit_limit_fen)} · issued {ride_code.issued_at_s}"
    )


@reader_app.command("sync")
def reader_sync(
    app_id: Annotated[str, typer.Option(help="The transit operator's app id.")],
    keys_out: Annotated[Path, typer.Option(help="Where to write the issuer keys.")] = Path(
        "transit-keys.json"
    ),
    blacklist_out: Annotated[Path, typer.Option(help="Where to write the blacklist.")] = Path(
        "transit-blacklist.json"
    ),
) -> None:
    """Write an operator's issuer keys and blacklist (from this platform's database)."""
    from paybao.bootstrap import build_platform
    from paybao.settings import load_settings

    platform = build_platform(load_settings())
    try:
        transit = platform.services["transit"]
        transit.operator(app_id)
        issuer_keys = transit.issuer_keys()
        listed: list[int] = []
        for page in range(1, BLACKLIST_PAGES_MAX + 1):
            users = transit.blacklist(app_id, page, BLACKLIST_PAGE_SIZE)
            listed += users
            if len(users) < BLACKLIST_PAGE_SIZE:
                break
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        platform.close()
    keys_document = {
        "app_id": app_id,
        "keys": [
            {"key_id": str(key.key_id), "public_key": base64.b64encode(key.public_key).decode()}
            for key in issuer_keys
        ],
    }
    _write(keys_out, keys_document)
    _write(blacklist_out, {"black_list": [str(user) for user in listed]})
    typer.echo(f"{len(issuer_keys)} issuer keys -> {keys_out}")
    typer.echo(f"{len(listed)} blacklisted users -> {blacklist_out}")


def _write(path: Path, document: dict[str, Any]) -> None:
    """Whole or not at all: a gate never loads half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, ensure_ascii=False, indent=1))
    partial.replace(path)


def _load(path: Path) -> Any:
    try:
        if path.stat().st_size > FILE_BYTES_MAX:
            raise FileUnusable(f"{path} is larger than {FILE_BYTES_MAX} bytes")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileUnusable(f"{path}: {error}") from None


def _read_keys(path: Path, app_id: str | None) -> tuple[int, dict[int, bytes]]:
    document = _load(path)
    entries = document.get("keys") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not 0 < len(entries) <= KEYS_MAX:
        raise FileUnusable(f"{path}: no keys (expected key.query's answer)")
    operator = app_id or (document.get("app_id") if isinstance(document, dict) else None)
    if not isinstance(operator, str) or not operator.isdigit() or len(operator) != 16:
        raise FileUnusable("the operator's 16-digit app id: --app-id, or app_id in the keys file")
    issuer_keys: dict[int, bytes] = {}
    for entry in entries:
        try:
            key_id = int(entry["key_id"])
            issuer_keys[key_id] = base64.b64decode(entry["public_key"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise FileUnusable(f"{path}: a key is {{key_id, public_key (base64)}}") from None
    return int(operator), issuer_keys


def _read_blacklist(path: Path) -> frozenset[int]:
    document = _load(path)
    entries = document.get("black_list", []) if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise FileUnusable(f"{path}: expected userblacklist.query's answer")
    try:
        return frozenset(int(str(user)) for user in entries)
    except ValueError:
        raise FileUnusable(f"{path}: user ids are digits") from None


__all__ = ["register"]
