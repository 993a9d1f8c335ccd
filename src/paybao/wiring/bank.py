"""Bank wiring: the `BankChannel` every card debit, payout, verification and statement uses.

PAYBAO_BANK_PROVIDER picks it: `sandbox` (the default) is the sandbox bank in this database,
with its fault knobs; `http` is the operator's bank bridge (adapters/banks/http.py,
docs/bank-protocol.md). A bridge asked for but not fully configured stops the platform from
starting, naming the settings (never their values): falling back to the sandbox bank would
credit wallets with money no bank moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.banks.http import HttpBank
from paybao.adapters.banks.sandbox import SandboxBank
from paybao.adapters.sandbox_faults import Faults
from paybao.services.bank_provider import config_problems, load_secret
from paybao.services.banking import BankChannel

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


class BankConfigError(ValueError):
    """The configured bank lacks settings (their names are in the message)."""


def build(platform: Platform, faults: Faults) -> BankChannel:
    settings = platform.settings
    if settings.bank_provider == "sandbox":
        return SandboxBank(platform.engine, platform.clock, faults)
    problems = config_problems(settings)
    if problems:
        raise BankConfigError(
            f"PAYBAO_BANK_PROVIDER={settings.bank_provider}: " + "; ".join(problems)
        )
    secret, _ = load_secret(settings)
    return HttpBank(
        settings.bank_url,
        secret,
        timeout_s=settings.bank_timeout_s,
        connect_timeout_s=settings.bank_connect_timeout_s,
        answer_bytes_max=settings.bank_answer_bytes_max,
    )
