"""Which bank the platform talks to (PAYBAO_BANK_PROVIDER), and whether its settings suffice.

`sandbox` is the sandbox bank in the platform's own database. `http` is an operator's bank
bridge speaking the signed protocol of docs/bank-protocol.md (adapters/banks/http.py). A bridge
asked for but not fully configured stops the platform from starting (wiring/bank.py): quietly
falling back to the sandbox bank would credit wallets with money no bank ever moved.
`paybao preflight` lists the same problems (`bank_provider_config`), by setting name, never
by value.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from paybao.domain.preflight import ERROR, Check
from paybao.services.sms_delivery import url_allowed

if TYPE_CHECKING:
    from paybao.settings import Settings

SECRET_CHARS_MIN: Final = 32
SECRET_FILE_BYTES_MAX: Final = 4096


def load_secret(settings: Settings) -> tuple[str, str]:
    """The bridge's shared secret and, when it cannot be used, why (else ""). The file wins
    over the variable: a secret in a 0600 file stays out of the process environment, which
    `ps e` and crash reports can show."""
    if not settings.bank_secret_file:
        return settings.bank_secret.get_secret_value(), ""
    path = Path(settings.bank_secret_file)
    try:
        info = path.stat()
        if info.st_size > SECRET_FILE_BYTES_MAX:
            return "", "PAYBAO_BANK_SECRET_FILE is larger than a secret"
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        return "", f"PAYBAO_BANK_SECRET_FILE cannot be read ({type(error).__name__})"
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return "", "PAYBAO_BANK_SECRET_FILE must be readable by its owner only (chmod 600)"
    return text, ""


def config_problems(settings: Settings) -> list[str]:
    """What keeps the configured bank from working, one line per setting; empty when it can."""
    if settings.bank_provider != "http":
        return []
    problems: list[str] = []
    if not settings.bank_url:
        problems.append("PAYBAO_BANK_URL is not set")
    elif not url_allowed(settings.bank_url):
        problems.append("PAYBAO_BANK_URL must be https:// (http:// only to this machine)")
    elif urlsplit(settings.bank_url).query or urlsplit(settings.bank_url).fragment:
        problems.append("PAYBAO_BANK_URL takes no query or fragment (paths are signed)")
    secret, secret_problem = load_secret(settings)
    if secret_problem:
        problems.append(secret_problem)
    elif len(secret) < SECRET_CHARS_MIN:
        problems.append(
            f"PAYBAO_BANK_SECRET (or PAYBAO_BANK_SECRET_FILE) needs at least {SECRET_CHARS_MIN}"
            " characters"
        )
    if settings.bank_connect_timeout_s > settings.bank_timeout_s:
        problems.append("PAYBAO_BANK_CONNECT_TIMEOUT_S must not exceed PAYBAO_BANK_TIMEOUT_S")
    # The query job that settles a lost answer must not ask before the request gave up.
    if settings.bank_timeout_s >= settings.bank_query_delay_s:
        problems.append("PAYBAO_BANK_TIMEOUT_S must be shorter than PAYBAO_BANK_QUERY_DELAY_S")
    return problems


def bank_provider_config(settings: Settings) -> Check:
    """The preflight check. Read from the settings alone, so it says what is missing even when
    the runtime checks could not open the platform because of it."""
    problems = config_problems(settings)
    if settings.bank_provider == "sandbox":
        message = "bank provider: sandbox (the sandbox bank in this database)"
    elif problems:
        message = f"bank provider http is not fully configured: {'; '.join(problems)}"
    else:
        message = "bank provider http is configured"
    return Check(
        "bank_provider_config",
        ERROR,
        not problems,
        message,
        "set the settings named (deploy/paybao.env.example, docs/bank-protocol.md), or"
        " PAYBAO_BANK_PROVIDER=sandbox",
    )
