"""Ledger transfer codes name what a journal entry is (statements, reconciliation, bills read
them), so no two features may use one code for different things. Every feature defines its
codes in its own module (`LEDGER_CODE_*`, the wallet's `CODE_*`); this walks every module and
checks that one value has one name."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict

import paybao

CODE_NAME = re.compile(r"^LEDGER_CODE_[A-Z0-9_]+$")
# The wallet named its codes before the convention: CODE_TOPUP, CODE_TRANSFER, ...
WALLET_CODE_NAME = re.compile(r"^CODE_[A-Z0-9_]+$")
WALLET_CODES_MODULE = "paybao.services.wallet_statement"  # where the wallet defines them


def _codes() -> dict[int, set[str]]:
    names_by_code: dict[int, set[str]] = defaultdict(set)
    for module_info in pkgutil.walk_packages(paybao.__path__, "paybao."):
        if ".migrations" in module_info.name or module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            wallet = module_info.name == WALLET_CODES_MODULE and WALLET_CODE_NAME.match(name)
            if (CODE_NAME.match(name) or wallet) and type(value) is int:
                names_by_code[value].add(name.removeprefix("LEDGER_"))
    return names_by_code


def test_every_ledger_code_has_one_meaning() -> None:
    codes = _codes()
    assert len(codes) >= 30, sorted(codes)  # the walk found the features' codes
    shared = {code: sorted(names) for code, names in codes.items() if len(names) > 1}
    assert shared == {}, f"one code, several names: {shared}"
    assert all(code > 0 for code in codes)
