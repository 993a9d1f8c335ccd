"""A platform with PAYBAO_BANK_PROVIDER=http against the reference bank bridge (`paybao bank-sim`)
in a subprocess, on SQLite and PostgreSQL: a card is bound (verified at the bridge), topped up
from and withdrawn to; a debit whose answer comes too late is UNKNOWN and settled by the query
job; a request lost on the way (or never sent: the bridge was down) is closed by the query and
fails; a forged answer is not believed; the day's three-way reconciliation reads the bridge's
signed statement and agrees with the ledger. Startup and `paybao preflight` refuse the http bank
without its settings."""

from __future__ import annotations

import json
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from tests.integration.test_preflight_cli import (
    _failed,
    _preflight,
    production_env,  # noqa: F401 (a fixture)
    runner,
    sandbox_env,  # noqa: F401 (a fixture)
)
from tests.integration.test_wallet_rules import PIN, code_for, ledger_clean, open_user

from paybao.adapters.banks.http import HttpBank
from paybao.adapters.banks.http_protocol import request_material, sign
from paybao.bootstrap import Platform, build_platform
from paybao.cli import app
from paybao.domain.cards import generate_card_number
from paybao.domain.errors import Retryable
from paybao.domain.identity import generate_id_number
from paybao.settings import Settings
from paybao.web.errors import status_for
from paybao.wiring.bank import BankConfigError

SECRET = "bridge-" + "k" * 40
ANSWER_DELAY_S = 2.5  # the bridge's late answers; paybao waits 1 s
OPENING_FEN = 10_000_00
CHINA = timezone(timedelta(hours=8))


class Bridge:
    def __init__(self, url: str, database: Path) -> None:
        self.url = url
        self.database = database

    def script(self, *steps: str) -> None:
        """What the bridge's next debits and credits do (a signed call, as paybao's)."""
        body = json.dumps({"steps": list(steps)}).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        material = request_material(timestamp, nonce, "POST", "/v1/sim/script", body)
        headers = {
            "X-Paybao-Timestamp": timestamp,
            "X-Paybao-Nonce": nonce,
            "X-Paybao-Signature": sign(SECRET.encode(), material),
        }
        answer = httpx.post(self.url + "/v1/sim/script", content=body, headers=headers)
        assert answer.status_code == 200, answer.text

    def card_balance_fen(self, card_number: str) -> int:
        engine = create_engine(f"sqlite:///{self.database}")
        try:
            with engine.connect() as connection:
                balance = connection.execute(
                    text("SELECT balance_fen FROM bank_card_accounts WHERE card_number = :n"),
                    {"n": card_number},
                ).scalar_one()
        finally:
            engine.dispose()
        return int(balance)


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[Bridge]:
    database = tmp_path / "bank-sim.sqlite3"
    command = [
        str(Path(sys.executable).parent / "paybao"),
        "bank-sim",
        "--port",
        "0",
        "--database",
        str(database),
        "--allow-script",
        "--answer-delay-s",
        str(ANSWER_DELAY_S),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PAYBAO_BANK_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the bridge prints its address once bound
        assert line.startswith("bank-sim listening on "), line
        yield Bridge(line.split()[-1], database)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _http_platform(settings: Settings, url: str) -> Platform:
    built = build_platform(
        settings.model_copy(
            update={
                "bank_provider": "http",
                "bank_url": url,
                "bank_secret": SecretStr(SECRET),
                "bank_timeout_s": 1.0,
                "bank_connect_timeout_s": 0.5,
            }
        )
    )
    built.ledger.open_platform_accounts()
    return built


@pytest.fixture
def http_platform(settings: Settings, bridge: Bridge) -> Iterator[Platform]:
    built = _http_platform(settings, bridge.url)
    yield built
    built.close()


def _wallet_fen(platform: Platform, user_id: int) -> int:
    balance_fen, _ = platform.services["wallet"].balance(user_id)
    return int(balance_fen)


def _card_number(platform: Platform, user_id: int) -> str:
    (card,) = platform.services["card_pay"].cards_of(user_id)
    return str(card.card_number)


def _today(platform: Platform) -> Any:
    return datetime.fromtimestamp(platform.clock.now_us() / 1_000_000, CHINA).date()


def test_bind_top_up_withdraw_and_reconcile_through_the_bridge(
    http_platform: Platform, bridge: Bridge
) -> None:
    platform = http_platform
    assert isinstance(platform.services["bank"], HttpBank)
    wallet = platform.services["wallet"]
    user_id, card_id = open_user(platform, "13900000711")  # verified at the bridge
    card = _card_number(platform, user_id)
    assert bridge.card_balance_fen(card) == OPENING_FEN

    assert wallet.top_up(user_id, card_id, 500_00, PIN).status == "succeeded"
    withdrawal = wallet.withdraw(user_id, card_id, 100_00, PIN)
    assert (withdrawal.status, withdrawal.fee_fen) == ("succeeded", 0)
    assert _wallet_fen(platform, user_id) == 400_00
    assert bridge.card_balance_fen(card) == OPENING_FEN - 500_00 + 100_00

    # The answer to this debit comes after paybao gave up: UNKNOWN, the row waits...
    bridge.script("timeout")
    late = wallet.top_up(user_id, card_id, 200_00, PIN)
    assert late.status == "processing"
    assert _wallet_fen(platform, user_id) == 400_00
    assert bridge.card_balance_fen(card) == OPENING_FEN - 700_00 + 100_00  # the bank acted
    # ...until the query job asks the bridge how it ended.
    platform.sandbox_clock.advance(31)
    assert wallet.movement("topup", late.id).status == "succeeded"
    assert _wallet_fen(platform, user_id) == 600_00

    # A debit lost on the way: the query finds nothing, which closes the id at the bridge.
    bridge.script("timeout_lost")
    lost = wallet.top_up(user_id, card_id, 50_00, PIN)
    assert lost.status == "processing"
    platform.sandbox_clock.advance(31)
    settled = wallet.movement("topup", lost.id)
    assert (settled.status, settled.failure_code) == ("failed", "bank_not_received")
    assert bridge.card_balance_fen(card) == OPENING_FEN - 700_00 + 100_00

    # A forged answer is not believed: the withdrawal waits for the query, not for the forger.
    bridge.script("bad_signature")
    forged = wallet.withdraw(user_id, card_id, 30_00, PIN)
    assert forged.status == "sent"
    report = platform.reconcile.run(_today(platform))
    assert "bank.three_way" in report.checks_run
    assert [(d.kind, d.subject) for d in report.differences] == [
        ("missing_in_ledger", f"withdraw:{forged.id}")
    ]
    platform.sandbox_clock.advance(31)
    assert wallet.movement("withdrawal", forged.id).status == "succeeded"

    report = platform.reconcile.run(_today(platform))
    assert report.clean, report.differences
    assert report.class_totals["bank.debits_fen"] == 700_00
    assert report.class_totals["bank.credits_fen"] == 130_00
    assert _wallet_fen(platform, user_id) == 570_00
    assert bridge.card_balance_fen(card) == OPENING_FEN - 700_00 + 130_00
    assert ledger_clean(platform)


def test_a_top_up_while_the_bridge_is_unreachable_waits_for_the_bank_s_word(
    settings: Settings, bridge: Bridge
) -> None:
    """Nothing reached the bank, yet paybao does not call it failed on its own: the query job
    asks once the bridge answers, whose `not_found` closes the id and fails the top-up."""
    live = _http_platform(settings, bridge.url)
    user_id, card_id = open_user(live, "13900000712")
    card = _card_number(live, user_id)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = _http_platform(settings, f"http://127.0.0.1:{port}")
    try:
        topup = gone.services["wallet"].top_up(user_id, card_id, 10_00, PIN)
        assert topup.status == "processing"
        gone.sandbox_clock.advance(31)  # the query cannot reach the bank either: it waits
        assert gone.services["wallet"].movement("topup", topup.id).status == "processing"
    finally:
        gone.close()
    try:
        live.sandbox_clock.advance(120)
        settled = live.services["wallet"].movement("topup", topup.id)
        assert (settled.status, settled.failure_code) == ("failed", "bank_not_received")
        assert _wallet_fen(live, user_id) == 0
        assert bridge.card_balance_fen(card) == OPENING_FEN
        # A late arrival of the request could not move money any more.
        late = live.services["bank"].debit(f"topup:{topup.id}", card, 10_00)
        assert (late.outcome, late.failure_code) == ("failed", "request_closed")
        assert bridge.card_balance_fen(card) == OPENING_FEN
        assert ledger_clean(live)
    finally:
        live.close()


def test_the_platform_does_not_start_without_the_bridge_s_settings(settings: Settings) -> None:
    with pytest.raises(BankConfigError) as caught:
        build_platform(
            settings.model_copy(
                update={"bank_provider": "http", "bank_secret": SecretStr("short-secret")}
            )
        )
    message = str(caught.value)
    assert "PAYBAO_BANK_URL is not set" in message
    assert "needs at least 32 characters" in message
    assert "short-secret" not in message


def test_preflight_names_what_the_bridge_lacks(
    production_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    code, report = _preflight()
    [check] = [c for c in report["checks"] if c["code"] == "bank_provider_config"]
    assert check["ok"] is True and "sandbox" in check["message"]

    secret_file = tmp_path / "bank.secret"
    secret_file.write_text("f" * 40 + "\n")
    secret_file.chmod(0o644)
    monkeypatch.setenv("PAYBAO_BANK_PROVIDER", "http")
    monkeypatch.setenv("PAYBAO_BANK_URL", "http://bank.example.com/bridge")
    monkeypatch.setenv("PAYBAO_BANK_SECRET_FILE", str(secret_file))
    code, report = _preflight()
    assert code == 1
    assert "bank_provider_config" in _failed(report, "error")
    [check] = [c for c in report["checks"] if c["code"] == "bank_provider_config"]
    assert "PAYBAO_BANK_URL must be https://" in check["message"]
    assert "chmod 600" in check["message"]
    assert "f" * 40 not in str(report)
    human = runner.invoke(app, ["preflight"])
    assert "ERR  bank_provider_config: bank provider http is not fully configured" in human.output

    secret_file.chmod(0o600)
    # Nothing listens there: the configuration is right, the bridge is not up (reconcile says).
    monkeypatch.setenv("PAYBAO_BANK_URL", "https://127.0.0.1:9/bridge")
    code, report = _preflight()
    [check] = [c for c in report["checks"] if c["code"] == "bank_provider_config"]
    assert (check["ok"], check["message"]) == (True, "bank provider http is configured")
    [adapters] = [c for c in report["checks"] if c["code"] == "sandbox_adapters"]
    assert "SandboxBank" not in adapters["message"]


def test_online_banking_keeps_to_the_sandbox_bank_beside_the_bridge(
    http_platform: Platform,
) -> None:
    """Online banking (网银) is still the sandbox bank's pages: with the bridge moving card
    money, the channel reads the sandbox bank's own accounts (it used to reach for the
    bridge's, which it does not have, and crashed on the first query)."""
    user_id, _ = open_user(http_platform, "13700000091")
    topups = http_platform.services["bank_pay_topups"]
    topup, url = topups.start(user_id, "ICBC", 50_00)
    assert url.startswith(http_platform.settings.base_url)

    checked = topups.check(user_id, topup.id)  # asks the channel: unpaid at the sandbox bank

    assert checked.status == "pending"
    assert _wallet_fen(http_platform, user_id) == 0


def test_demo_data_needs_the_sandbox_bank(
    sandbox_env: Settings,  # noqa: F811 (the fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYBAO_BANK_PROVIDER", "http")
    done = runner.invoke(app, ["demo"])
    assert done.exit_code == 2, done.output
    assert "demo_needs_sandbox_bank" in done.output


def test_a_card_the_bank_could_not_answer_for_is_retryable_not_refused(
    settings: Settings,
) -> None:
    """No answer from the bank is not a "no": binding a card then says try again (503,
    bank_unavailable), binds nothing, and the card is not called unknown to the bank."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = _http_platform(settings, f"http://127.0.0.1:{port}")
    try:
        registration = gone.services["registration"]
        phone = "13900000713"
        user_id = registration.start(phone, "abc12345")
        registration.verify_phone(user_id, code_for(gone, phone))
        registration.set_payment_password(user_id, PIN)
        rng = random.Random(phone)
        registration.verify_identity(user_id, "王小明", generate_id_number(rng))
        card = generate_card_number(rng, "ICBC")
        with pytest.raises(Retryable) as caught:
            registration.add_card(user_id, card, "王小明", phone)
        assert caught.value.code == "bank_unavailable"
        assert status_for(caught.value) == 503
        assert gone.services["card_pay"].cards_of(user_id) == []
    finally:
        gone.close()
