"""Transit ride codes on the real platform (SQLite, and PostgreSQL when configured): open ->
ride -> settle -> deducted; arrears -> suspended -> blacklisted -> repaid -> restored; a
duplicate upload settles once; the gateway's refusals; closing only without debt."""

from __future__ import annotations

from typing import Any

import pytest
from agreement_support import row_count
from fastapi.testclient import TestClient
from gateway_support import PAYMENT_PASSWORD, call, make_buyer, wallet_balance
from transit_support import (
    SETTLE,
    make_metro,
    now_s,
    open_ride_code,
    reader,
    ride,
    settle,
)

from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.transit import CodeReplayed, TapKind, UserBlacklisted, public_user_id

PHONE = "13800138000"


def test_open_ride_settle_deducts_through_the_agreement(
    platform: Platform, client: TestClient
) -> None:
    operator = make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    agreements = platform.services["agreements"].agreements_of(user_id)
    assert [a.status.value for a in agreements] == ["NORMAL"]

    records = ride(client, phone, now_s(platform) - 900)  # zone 1 -> zone 3: 2 apart, 4.00
    [result] = settle(client, ("M-0001", records))

    assert result["result"] == "SUCCESS" and result["amount"] == "4.00", result
    assert wallet_balance(platform, user_id) == 16_00
    query = call(client, "alipay.trade.query", {"out_trade_no": "M-0001"})
    assert query["trade_status"] == "TRADE_SUCCESS" and query["total_amount"] == "4.00"
    assert query["trade_no"] == result["trade_no"]
    assert operator.name == "杭州地铁"
    assert platform.reconcile.run().clean


def test_the_same_upload_again_settles_once(platform: Platform, client: TestClient) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    records = ride(client, phone, now_s(platform) - 900)

    first = settle(client, ("M-0002", records))
    again = settle(client, ("M-0002", records))
    other_number = settle(client, ("M-0003", records))

    assert first == again
    assert wallet_balance(platform, user_id) == 16_00
    assert other_number[0]["result"] == "FAIL"
    assert other_number[0]["error_code"] == CodeReplayed.code.upper()
    assert row_count(platform, "SELECT COUNT(*) FROM transit_rides") == 1


def test_arrears_suspend_blacklist_then_repay_restores(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=3_00)
    phone = open_ride_code(platform, user_id)
    records = ride(client, phone, now_s(platform) - 900)  # 4.00 > 3.00 in the wallet

    [result] = settle(client, ("M-0004", records))

    assert result["result"] == "ARREARS" and result["error_code"] == "USER_ARREARS", result
    assert wallet_balance(platform, user_id) == 3_00
    transit = platform.services["transit"]
    account = transit.account(user_id, operator_app(platform))
    assert (account.status.value, account.owed_fen, account.owed_count) == ("SUSPENDED", 400, 1)
    blacklist = call(client, "alipay.commerce.transport.offlinepay.userblacklist.query", {})
    assert blacklist["black_list"] == [str(public_user_id(user_id))]
    gate = reader(client, "WLQ")
    with pytest.raises(UserBlacklisted):
        gate.scan(phone.code(now_s(platform)), now_s(platform))
    with pytest.raises(DomainError) as refused:
        transit.certificate(user_id, operator_app(platform))
    assert refused.value.code == "transit_suspended"
    with pytest.raises(DomainError) as closing:
        transit.close(user_id, operator_app(platform))
    assert closing.value.code == "transit_has_debt"

    with pytest.raises(DomainError):  # not enough money yet: nothing changes
        transit.repay(user_id, operator_app(platform), PAYMENT_PASSWORD)
    top_up(platform, user_id, 10_00)
    with pytest.raises(DomainError) as wrong:
        transit.repay(user_id, operator_app(platform), "000000")
    assert "password" in wrong.value.code
    restored = transit.repay(user_id, operator_app(platform), PAYMENT_PASSWORD)

    assert (restored.status.value, restored.owed_fen) == ("ACTIVE", 0)
    assert wallet_balance(platform, user_id) == 9_00
    assert (
        call(client, "alipay.commerce.transport.offlinepay.userblacklist.query", {})["black_list"]
        == []
    )
    again = settle(client, ("M-0004", records))[0]
    assert again["result"] == "SUCCESS" and again["trade_no"], again
    query = call(client, "alipay.trade.query", {"out_trade_no": "M-0004"})
    assert query["trade_status"] == "TRADE_SUCCESS"
    phone.certificate = transit.certificate(user_id, operator_app(platform))
    reader(client, "WLQ").scan(phone.code(now_s(platform)), now_s(platform))
    assert platform.reconcile.run().clean


def test_beyond_the_credit_guarantee_a_ride_is_refused(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    phone = open_ride_code(platform, user_id)
    start = now_s(platform) - 7200
    results = []
    for n in range(9):  # 9 rides of 4.00 against a 30.00 guarantee
        records = ride(client, phone, start + n * 700, synced=False)
        results += settle(client, (f"M-1{n:03d}", records))
    assert [r["result"] for r in results] == ["ARREARS"] * 7 + ["FAIL"] * 2
    assert results[-1]["error_code"] == "CREDIT_LIMIT_EXCEEDED"
    account = platform.services["transit"].account(user_id, operator_app(platform))
    assert (account.owed_fen, account.owed_count) == (28_00, 7)


def test_settle_refuses_bad_records_and_writes_nothing(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    records = ride(client, phone, now_s(platform) - 900)
    kind, station, at, code = records[0].split("|")
    flipped = code[:100] + ("A" if code[100] != "A" else "B") + code[101:]
    cases: list[tuple[list[str], dict[str, Any], str]] = [
        ([f"{kind}|{station}|{at}|{flipped}", records[1]], {}, "TRANSIT_"),
        ([records[1], records[0]], {}, "TRANSIT_RECORD_INVALID"),
        (records, {"amount": "3.00"}, "TRANSIT_AMOUNT_MISMATCH"),
        ([f"{kind}|NOPE|{at}|{code}", records[1]], {}, "TRANSIT_RECORD_INVALID"),
        ([f"{kind}|{station}|{int(at) + 120}|{code}", records[1]], {}, "TRANSIT_CODE_EXPIRED"),
    ]
    for n, (bad, extra, error_code) in enumerate(cases):
        [result] = settle(client, (f"BAD-{n}", bad), **extra)
        assert result["result"] == "FAIL" and result["error_code"].startswith(error_code), result
    assert row_count(platform, "SELECT COUNT(*) FROM transit_rides") == 0
    assert wallet_balance(platform, user_id) == 20_00
    too_many = [{"out_trade_no": f"N{n}", "records": records} for n in range(51)]
    answer = call(client, SETTLE, {"trade_list": too_many})
    assert answer["code"] == "40004" and answer["sub_code"] == "INVALID_PARAMETER"


def test_record_verify_and_key_query(platform: Platform, client: TestClient) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    keys = call(client, "alipay.commerce.transport.offlinepay.key.query", {})["keys"]
    assert len(keys) == 1 and len(keys[0]["key_id"]) == 8
    code = phone.code(now_s(platform))
    ok = call(client, "alipay.commerce.transport.offlinepay.record.verify", {"record": code})
    assert ok["code"] == "10000" and ok["user_id"] == str(public_user_id(user_id))
    assert ok["credit_limit"] == "30.00"
    bad = call(client, "alipay.commerce.transport.offlinepay.record.verify", {"record": code[:-2]})
    assert bad["code"] == "40004" and bad["sub_code"] == "TRANSIT_CODE_MALFORMED"


def test_close_waits_three_days_then_ends_the_agreement(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    open_ride_code(platform, user_id)
    transit = platform.services["transit"]
    closing = transit.close(user_id, operator_app(platform))
    assert closing.status.value == "CLOSING"
    with pytest.raises(DomainError):
        transit.certificate(user_id, operator_app(platform))
    assert transit.finish_close(closing.id) is False  # not yet: three days
    platform.sandbox_clock.advance(3 * 86_400 + 60)
    platform.jobs.run_due()
    with pytest.raises(DomainError):
        transit.account(user_id, operator_app(platform))
    agreements = platform.services["agreements"].agreements_of(user_id)
    assert [a.status.value for a in agreements] == ["UNSIGN"]
    reopened = open_ride_code(platform, user_id)  # a new account and agreement
    assert reopened.certificate


def test_a_second_open_binds_a_new_phone_key(platform: Platform, client: TestClient) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    old = open_ride_code(platform, user_id)
    new = open_ride_code(platform, user_id)
    assert row_count(platform, "SELECT COUNT(*) FROM transit_accounts") == 1
    assert row_count(platform, "SELECT COUNT(*) FROM agreements") == 1
    at = now_s(platform) - 900
    records = ride(client, new, at)
    assert settle(client, ("M-NEW", records))[0]["result"] == "SUCCESS"
    old_records = ride(client, old, at + 60)  # the old certificate still verifies offline
    assert settle(client, ("M-OLD", old_records))[0]["result"] == "SUCCESS"
    gate = reader(client, "WLQ", TapKind.IN)
    code = new.code(now_s(platform))
    gate.scan(code, now_s(platform))
    with pytest.raises(CodeReplayed):
        gate.scan(code, now_s(platform))


def operator_app(platform: Platform) -> str:
    [operator] = platform.services["transit"].operators()
    return operator.app_id


def top_up(platform: Platform, user_id: int, amount_fen: int) -> None:
    """A friend sends the money (a wallet transfer)."""
    friend = make_buyer(platform, "13900009999", balance_fen=amount_fen)
    platform.services["wallet"].transfer(friend, PHONE, amount_fen, PAYMENT_PASSWORD)


def test_an_operator_number_of_another_payment_refuses_the_ride_without_debt(
    platform: Platform, client: TestClient
) -> None:
    """The operator reused an out_trade_no of an ordinary order of its app: the ride is
    refused before anything is recorded, and the rider neither owes nor is suspended (before,
    the deduction failed on the number and made the rider owe)."""
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    order = call(
        client,
        "alipay.trade.precreate",
        {"out_trade_no": "M-0100", "total_amount": "9.00", "subject": "月票"},
    )
    assert order["code"] == "10000", order

    [result] = settle(client, ("M-0100", ride(client, phone, now_s(platform) - 900)))

    assert result["result"] == "FAIL" and result["error_code"] == "TRANSIT_RECORD_REUSED", result
    assert row_count(platform, "SELECT COUNT(*) FROM transit_rides") == 0
    (account,) = platform.services["transit"].accounts_of(user_id)
    assert (account.status.value, account.owed_fen) == ("ACTIVE", 0), account
    assert wallet_balance(platform, user_id) == 20_00
    assert platform.reconcile.run().clean
