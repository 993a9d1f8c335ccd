"""Double-spend storms on red packets and coupons: many clients at once, through the real ASGI
app (REST with Idempotency-Key) or the gateway, and exactly the allowed money moves. Runs on
SQLite and PostgreSQL (the fixtures decide)."""

from __future__ import annotations

import functools
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponStatus
from tests.integration.coupon_support import claim, marketing_spent, operator_campaign
from tests.integration.gateway_support import (
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
    parse_verified,
    signed_params,
    wallet_balance,
)
from tests.integration.red_packet_support import START_FEN, pool_fen, red_packets, sender, user

PATH = "/api/v1/red-packets"
ATTEMPTS_MAX = 50  # per client, while another holds the same Idempotency-Key


def storm(attempts: list[Callable[[], Any]]) -> list[Any]:
    """Start every attempt at the same instant; each one's result, in order."""
    results: list[Any] = [None] * len(attempts)
    barrier = threading.Barrier(len(attempts))

    def run(index: int) -> None:
        barrier.wait()
        results[index] = attempts[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(result is not None for result in results), "an attempt hung"
    return results


def auth(platform: Platform, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.services['operators'].issue_token(user_id)}"}


def post(client: TestClient, path: str, headers: dict[str, str], key: str, body: Any = None) -> Any:
    """POST as a client that retries while the key is still being worked on elsewhere."""
    for _ in range(ATTEMPTS_MAX):
        response = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})
        if response.status_code != 409 or code_of(response) != "idempotency_key_in_use":
            return response
        threading.Event().wait(0.05)
    raise AssertionError(f"{key} still in use after {ATTEMPTS_MAX} attempts")


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


def outcome(response: Any) -> str:
    return "ok" if response.status_code == 200 else code_of(response)


def lucky(total_fen: int, count: int) -> dict[str, Any]:
    return {
        "kind": "lucky",
        "total_fen": total_fen,
        "count": count,
        "payment_password": PAYMENT_PASSWORD,
    }


def report_clean(platform: Platform) -> None:
    report = platform.reconcile.run()
    assert report.differences == [], [d.line() for d in report.differences]
    assert "red_packets.account_holds_unclaimed" in report.checks_run


# Red packets -------------------------------------------------------------------------------


def test_many_clients_claim_one_lucky_packet_over_rest(
    platform: Platform, client: TestClient
) -> None:
    shares, claimants_count = 8, 24
    alice = sender(platform)
    sent = post(client, PATH, auth(platform, alice), uuid.uuid4().hex, lucky(88_88, shares))
    assert sent.status_code == 200, sent.text
    packet_id = sent.json()["id"]
    claimants = [user(platform, n) for n in range(claimants_count)]
    headers = [auth(platform, c) for c in claimants]
    keys = [uuid.uuid4().hex for _ in claimants]
    claim_path = f"{PATH}/{packet_id}/claim"
    # Every claimant once, and the first 8 a second time with the same key (a client retry
    # racing its own first attempt): a repeat is answered, never claimed again.
    who = list(range(claimants_count)) + list(range(8))
    answers = storm([functools.partial(post, client, claim_path, headers[i], keys[i]) for i in who])

    assert set(Counter(outcome(a) for a in answers)) <= {"ok", "red_packet_empty"}, answers
    won: dict[int, dict[str, Any]] = {}
    for i, answer in zip(who, answers, strict=True):
        if answer.status_code == 200:
            assert won.setdefault(i, answer.json()) == answer.json()  # a replay: same answer
    assert len(won) == shares
    assert len({claimed["claim_id"] for claimed in won.values()}) == shares
    assert sum(claimed["amount_fen"] for claimed in won.values()) == 88_88
    for i, claimant in enumerate(claimants):
        assert wallet_balance(platform, claimant) == won.get(i, {}).get("amount_fen", 0)
    assert pool_fen(platform) == 0
    view = client.get(f"{PATH}/{packet_id}", headers=auth(platform, alice)).json()
    assert (view["state"], view["claimed_count"], view["claimed_fen"]) == ("finished", 8, 88_88)
    assert wallet_balance(platform, alice) == START_FEN - 88_88
    report_clean(platform)


def test_a_balance_for_k_packets_sends_k_of_4k_and_one_key_sends_one(
    platform: Platform, client: TestClient
) -> None:
    k, total_fen = 3, 30_00
    alice = sender(platform, balance_fen=k * total_fen)
    headers = auth(platform, alice)
    lowest = [k * total_fen]
    stop = threading.Event()

    def watch() -> None:  # the balance as other readers see it, all through the storm
        while not stop.is_set():
            lowest[0] = min(lowest[0], wallet_balance(platform, alice))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answers = storm(
            [
                lambda: post(client, PATH, headers, uuid.uuid4().hex, lucky(total_fen, 3))
                for _ in range(4 * k)
            ]
        )
    finally:
        stop.set()
        watcher.join(30)
    outcomes = Counter(outcome(a) for a in answers)
    assert outcomes == Counter({"ok": k, "insufficient_funds": 3 * k}), outcomes
    assert lowest[0] >= 0
    assert wallet_balance(platform, alice) == 0
    assert len(red_packets(platform).sent(alice).items) == k
    assert pool_fen(platform) == k * total_fen

    bob = user(platform, 1, balance_fen=100_00)
    bob_headers, key = auth(platform, bob), uuid.uuid4().hex
    same = storm([lambda: post(client, PATH, bob_headers, key, lucky(10_00, 2)) for _ in range(8)])
    assert {a.status_code for a in same} == {200}, [a.text for a in same]
    assert len({a.json()["id"] for a in same}) == 1
    assert all(a.json() == same[0].json() for a in same)
    assert len(red_packets(platform).sent(bob).items) == 1
    assert wallet_balance(platform, bob) == 90_00
    report_clean(platform)


def test_claims_at_the_expiry_instant_racing_two_sweeps(
    platform: Platform, client: TestClient
) -> None:
    alice = sender(platform)
    alice_headers = auth(platform, alice)
    packets = [
        post(client, PATH, alice_headers, uuid.uuid4().hex, lucky(12_34 * (n + 1), 8)).json()["id"]
        for n in range(3)
    ]
    totals_fen = [12_34 * (n + 1) for n in range(3)]
    # Fewer claimants than shares: no packet finishes, every one expires with a rest.
    claimants = [user(platform, n) for n in range(6)]
    headers = [auth(platform, c) for c in claimants]
    service = red_packets(platform)
    # The last sent expires last (milliseconds after the others): its expiry is the instant.
    expires_at_us = max(service.packet(alice, p).expires_at_us for p in packets)
    clock = platform.clock
    platform.sandbox_clock.sweeps.clear()  # the sweeps below are the only ones
    # Platform time 50 ms before the expiry: the claims straddle it as the storm runs.
    clock.set_offset_us(clock.offset_us(fresh=True) + expires_at_us - clock.now_us() - 50_000)
    moved = threading.Event()

    def sweep(first: bool) -> Any:
        if first:  # jump to the expiry instant, then sweep; the second sweeper right after
            early_us = expires_at_us - clock.now_us()
            if early_us > 0:
                clock.set_offset_us(clock.offset_us(fresh=True) + early_us)
            moved.set()
        else:
            moved.wait(30)
        return service.expire_due()

    def claim_one(i: int, packet_id: str) -> Any:
        return post(client, f"{PATH}/{packet_id}/claim", headers[i], uuid.uuid4().hex)

    attempts: list[Callable[[], Any]] = [lambda: sweep(True), lambda: sweep(False)]
    attempts += [functools.partial(claim_one, i, p) for i in range(6) for p in packets]
    results = storm(attempts)

    claims = results[2:]
    assert set(outcome(a) for a in claims) <= {"ok", "red_packet_expired"}, claims
    assert results[0] + results[1] == 3  # each packet expired by one sweep, once
    service.expire_due()  # whatever the racing sweeps left
    claimed_total_fen = 0
    for packet_id, total_fen in zip(packets, totals_fen, strict=True):
        view = service.packet(alice, packet_id)
        claimed_fen = sum(c.amount_fen for c in view.claims)
        assert view.state == "expired"
        assert view.claimed_fen == claimed_fen
        assert view.claimed_fen + view.returned_fen == total_fen  # claimed or returned, not both
        claimed_total_fen += claimed_fen
    got_fen = sum(a.json()["amount_fen"] for a in claims if a.status_code == 200)
    assert got_fen == claimed_total_fen
    assert sum(wallet_balance(platform, c) for c in claimants) == claimed_total_fen
    assert wallet_balance(platform, alice) == START_FEN - claimed_total_fen
    assert pool_fen(platform) == 0
    report_clean(platform)


# Coupons -----------------------------------------------------------------------------------

GENERAL = {
    "personal_product_code": "GENERAL_WITHHOLDING_P",
    "product_code": "GENERAL_WITHHOLDING",
    "sign_scene": "INDUSTRY|PARKING",
    "access_params": {"channel": "ALIPAYAPP"},
}


def signed_agreement(platform: Platform, client: TestClient, user_id: int) -> str:
    """The merchant asks (the gateway's page sign), the user signs (the service, as the page's
    form would): the agreement number."""
    params = signed_params("alipay.user.agreement.page.sign", GENERAL)
    response = client.get("/gateway.do?" + urllib.parse.urlencode(params), follow_redirects=False)
    assert response.status_code == 302, response.text
    token = response.headers["location"].rsplit("/", 1)[1]
    agreement = platform.services["agreements"].sign(token, user_id, PAYMENT_PASSWORD)
    return str(agreement.agreement_no)


def test_one_coupon_raced_by_till_payments_and_deductions_is_used_once(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform, notify_url="http://127.0.0.1:9/notify")
    buyer = make_buyer(platform, "13900000777", balance_fen=500_00)
    agreement_no = signed_agreement(platform, client, buyer)
    coupon = claim(platform, buyer, operator_campaign(platform, threshold_fen=0))  # 10.00 off
    trades = platform.services["trades"]
    payments: list[dict[str, Any]] = []
    for n in range(8):
        biz: dict[str, Any] = {"out_trade_no": f"mix-{n}", "subject": "咖啡"}
        biz["total_amount"] = "30.00"
        if n % 2:
            biz |= {"scene": "bar_code", "auth_code": trades.issue_auth_code(buyer)}
        else:
            biz |= {
                "product_code": "GENERAL_WITHHOLDING",
                "agreement_params": {"agreement_no": agreement_no},
            }
        payments.append(biz)
    queries = [
        urllib.parse.urlencode(signed_params("alipay.trade.pay", biz)).encode() for biz in payments
    ]
    gateway = platform.services["alipay_gateway"]

    def pay(query: bytes) -> dict[str, Any]:
        reply = gateway.handle(query, b"", None)
        return parse_verified(reply.body, platform, "alipay.trade.pay")

    answers = storm([functools.partial(pay, q) for q in queries])

    assert [answer["code"] for answer in answers] == ["10000"] * 8, answers
    paid = sorted(answer["buyer_pay_amount"] for answer in answers)
    assert paid == ["20.00"] + ["30.00"] * 7
    used = platform.services["marketing"].coupons_of(buyer, CouponStatus.USED)
    assert [held.coupon.id for held in used] == [coupon]
    assert marketing_spent(platform) == 10_00
    assert wallet_balance(platform, buyer) == 500_00 - 8 * 30_00 + 10_00
    report = platform.reconcile.run()
    assert report.differences == [], [d.line() for d in report.differences]
