"""TransitService on in-memory fakes, over the real agreement and withholding services: opening
(the password signs the agreement; again binds a new phone key), certificates, settling rides
(zones, bus, no tap-out, replay, one code one ride, amounts), arrears and the credit guarantee,
repayment, closing, the limits taken from settings, and recovery of a ride a crash left PENDING
(never charged twice)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from typing import Any

import pytest
from tests.support.fakes import FakeTx
from tests.unit.test_agreement_services import APP, OTHER_APP, PIN, START_US, World

from paybao.adapters.transit_crypto import IssuerVault, compressed, new_private_key, sign, verify
from paybao.domain.agreements import AgreementStatus
from paybao.domain.errors import DomainError, Retryable
from paybao.domain.transit import (
    AccountStatus,
    Certificate,
    FareRule,
    OperatorKind,
    RideCode,
    RideStatus,
    Tap,
    TapKind,
    TransitLimits,
    public_user_id,
)
from paybao.services.clock import US_PER_S
from paybao.services.transit import JOB_CLOSE, RECOVER_AFTER_S, TransitService
from paybao.services.transit_records import (
    IssuerKey,
    OfflineTrade,
    Operator,
    RideRecord,
    SettleResult,
    TransitAccount,
)
from paybao.settings import Settings
from paybao.wiring.transit import transit_limits

BUS_APP = OTHER_APP
ZONES = {"A1": 1, "A2": 1, "B1": 2, "C1": 3, "D1": 4}
FARES_FEN = (2_00, 3_00, 4_00, 5_00)


class FakeTransitStore:
    def _t(self, tx: FakeTx, name: str) -> dict[Any, Any]:
        return tx.state.setdefault(f"transit_{name}", {})  # type: ignore[no-any-return]

    def operator(self, tx: FakeTx, app_id: str) -> Operator | None:
        return self._t(tx, "operators").get(app_id)

    def operators(self, tx: FakeTx, limit: int) -> list[Operator]:
        return sorted(self._t(tx, "operators").values(), key=lambda o: o.app_id)[:limit]

    def save_operator(self, tx: FakeTx, operator: Operator) -> None:
        self._t(tx, "operators")[operator.app_id] = operator

    def issuer_key(self, tx: FakeTx, key_id: int) -> IssuerKey | None:
        return self._t(tx, "keys").get(key_id)

    def insert_issuer_key(self, tx: FakeTx, key: IssuerKey) -> None:
        assert key.key_id not in self._t(tx, "keys"), "primary key"
        self._t(tx, "keys")[key.key_id] = key

    def issuer_keys(
        self, tx: FakeTx, *, newest: int | None = None, ids: list[int] | None = None
    ) -> list[IssuerKey]:
        keys = sorted(self._t(tx, "keys").values(), key=lambda k: -k.key_id)
        if ids is not None:
            keys = [k for k in keys if k.key_id in ids]
        return keys[:newest] if newest is not None else keys

    def insert_account(self, tx: FakeTx, account: TransitAccount) -> int:
        rows = self._t(tx, "accounts")
        assert all(r.live_key != account.live_key for r in rows.values()), "unique live_key"
        account_id = len(rows) + 1
        rows[account_id] = dataclasses.replace(account, id=account_id)
        return account_id

    def live_account(
        self, tx: FakeTx, user_id: int, app_id: str, *, for_update: bool = False
    ) -> TransitAccount | None:
        rows = self._t(tx, "accounts").values()
        return next((r for r in rows if r.live_key == f"{user_id}|{app_id}"), None)

    def account(
        self, tx: FakeTx, account_id: int, *, for_update: bool = False
    ) -> TransitAccount | None:
        return self._t(tx, "accounts").get(account_id)

    def accounts_of(self, tx: FakeTx, user_id: int, limit: int) -> list[TransitAccount]:
        rows = self._t(tx, "accounts").values()
        return [r for r in rows if r.user_id == user_id and r.live_key][:limit]

    def update_account(
        self, tx: FakeTx, account_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        return _compare_and_set(self._t(tx, "accounts"), account_id, expect, changes)

    def blacklist(self, tx: FakeTx, app_id: str, offset: int, limit: int) -> list[int]:
        rows = self._t(tx, "accounts").values()
        users = sorted(
            r.user_id for r in rows if r.app_id == app_id and r.status is AccountStatus.SUSPENDED
        )
        return users[offset : offset + limit]

    def insert_ride(self, tx: FakeTx, ride: RideRecord, code_digests: list[str]) -> int:
        rides, uses = self._t(tx, "rides"), self._t(tx, "code_uses")
        taken = {(r.app_id, r.out_trade_no) for r in rides.values()}
        assert (ride.app_id, ride.out_trade_no) not in taken, "unique out_trade_no"
        assert not set(code_digests) & set(uses), "one ride per code"
        ride_id = len(rides) + 1
        rides[ride_id] = dataclasses.replace(ride, id=ride_id)
        uses.update(dict.fromkeys(code_digests, ride_id))
        return ride_id

    def ride(
        self, tx: FakeTx, app_id: str, out_trade_no: str, *, for_update: bool = False
    ) -> RideRecord | None:
        rows = self._t(tx, "rides").values()
        return next((r for r in rows if (r.app_id, r.out_trade_no) == (app_id, out_trade_no)), None)

    def ride_of_code(self, tx: FakeTx, digest: str) -> int | None:
        return self._t(tx, "code_uses").get(digest)

    def update_ride(
        self, tx: FakeTx, ride_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        return _compare_and_set(self._t(tx, "rides"), ride_id, expect, changes)

    def rides_of(
        self, tx: FakeTx, account_id: int, limit: int, status: RideStatus | None = None
    ) -> list[RideRecord]:
        rows = [r for r in self._t(tx, "rides").values() if r.account_id == account_id]
        if status is not None:
            return sorted((r for r in rows if r.status is status), key=lambda r: r.id)[:limit]
        return sorted(rows, key=lambda r: -r.id)[:limit]

    def pending_rides(self, tx: FakeTx, created_before_us: int, limit: int) -> list[RideRecord]:
        rows = self._t(tx, "rides").values()
        stuck = [
            r
            for r in rows
            if r.status is RideStatus.PENDING and r.created_at_us < created_before_us
        ]
        return sorted(stuck, key=lambda r: (r.created_at_us, r.id))[:limit]


def _compare_and_set(
    rows: dict[int, Any], row_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
) -> bool:
    row = rows[row_id]
    if any(getattr(row, key) != value for key, value in expect.items()):
        return False
    rows[row_id] = dataclasses.replace(row, **changes)
    return True


class FakeJobs:
    def schedule_in(
        self, tx: FakeTx, kind: str, key: str, due_at_us: int, payload: dict[str, Any] | None = None
    ) -> bool:
        tx.state.setdefault("jobs", []).append((kind, key, due_at_us))
        return True


class CrashingWithholding:
    """The real withholding, until told to crash (the process dies mid-settle: the exception is
    no domain error, so nothing answers it) or to answer a retryable failure."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.crash: BaseException | None = None
        self.calls = 0

    def deduct_in(self, tx: FakeTx, request: Any) -> Any:
        self.calls += 1
        if self.crash is not None:
            raise self.crash
        return self.real.deduct_in(tx, request)


class Phone:
    """The user's phone: its own key; signs codes over the certificate it was given."""

    def __init__(self) -> None:
        self.key = new_private_key()
        self.certificate = b""
        self.counter = 0

    @property
    def public_key(self) -> bytes:
        return compressed(self.key.public_key())

    def code(self, at_s: int) -> str:
        self.counter += 1
        cert = Certificate.from_bytes(self.certificate)
        draft = RideCode(cert, at_s, self.counter, secrets.randbits(32))
        return dataclasses.replace(draft, signature=sign(self.key, draft.body())).to_text()


class TransitWorld(World):
    def __init__(self, limits: TransitLimits | None = None) -> None:
        super().__init__()
        self.withholding_seen = CrashingWithholding(self.withholding)
        self.transit = TransitService(
            db=self.db,
            store=FakeTransitStore(),
            clock=self.clock,
            issuer=IssuerVault(secrets.token_bytes(32)),
            check=verify,
            users=self.users,
            agreements=self.agreements,
            withholding=self.withholding_seen,
            trades=self.withholding.trades,
            merchants=self.agreements.apps,
            jobs=FakeJobs(),
            limits=limits or TransitLimits(),
        )
        metro = FareRule(OperatorKind.METRO, zones=ZONES, zone_fares_fen=FARES_FEN)
        self.transit.save_operator(Operator(APP, 7, "杭州地铁", metro))
        bus = FareRule(OperatorKind.BUS, flat_fen=2_00)
        self.transit.save_operator(Operator(BUS_APP, 8, "杭州公交", bus))

    @property
    def now_s(self) -> int:
        return self.clock.now_us() // US_PER_S

    def open(self, user_id: int = 1, app_id: str = APP) -> Phone:
        phone = Phone()
        self.transit.open(user_id, app_id, phone.public_key, PIN)
        phone.certificate = self.transit.certificate(user_id, app_id)
        return phone

    def ride(self, phone: Phone, at_s: int, start: str = "A1", end: str | None = "C1") -> list[str]:
        taps = [Tap(TapKind.IN, start, at_s, phone.code(at_s))]
        if end is not None:
            taps.append(Tap(TapKind.OUT, end, at_s + 600, phone.code(at_s + 600)))
        return [tap.to_text() for tap in taps]

    def settle(self, out_trade_no: str, records: list[str], **extra: Any) -> SettleResult:
        app_id = extra.pop("app_id", APP)
        offline = OfflineTrade(out_trade_no, tuple(records), **extra)
        [result] = self.transit.settle(app_id, [offline])
        return result

    def balance(self, user_id: int = 1) -> int:
        return int(self.db.state.get("balances", {1: 5_000_00, 2: 5_000_00})[user_id])

    def set_balance(self, user_id: int, fen: int) -> None:
        balances = self.db.state.setdefault("balances", {1: 5_000_00, 2: 5_000_00})
        balances[user_id] = fen

    def rides(self) -> list[RideRecord]:
        return sorted(self.db.state.get("transit_rides", {}).values(), key=lambda r: r.id)

    def trades(self) -> dict[tuple[str, str], Any]:
        return dict(self.db.state.get("trades", {}))


@pytest.fixture
def world() -> TransitWorld:
    return TransitWorld()


def code_of(run: Any) -> str:
    with pytest.raises(DomainError) as raised:
        run()
    return raised.value.code


# Opening and certificates -------------------------------------------------------------------


def test_opening_signs_the_agreement_with_the_password_and_certifies_the_phone(
    world: TransitWorld,
) -> None:
    phone = Phone()
    assert code_of(lambda: world.transit.open(1, APP, phone.public_key, "000000")) == (
        "payment_password_wrong"
    )
    assert world.transit.accounts_of(1) == []
    assert code_of(lambda: world.transit.open(1, APP, b"\x04" + bytes(32), PIN)) == (
        "transit_key_invalid"
    )
    account = world.transit.open(1, APP, phone.public_key, PIN)
    assert (account.status, account.credit_limit_fen, account.owed_fen) == (
        AccountStatus.ACTIVE,
        30_00,
        0,
    )
    [agreement] = world.agreements.agreements_of(1)
    assert (agreement.sign_scene, agreement.status) == ("INDUSTRY|TRANSIT", AgreementStatus.NORMAL)
    cert = Certificate.from_bytes(world.transit.certificate(1, APP))
    assert (cert.user_id, cert.app_id, cert.public_key) == (
        public_user_id(1),
        int(APP),
        phone.public_key,
    )
    assert cert.valid_until_s == world.now_s + 3 * 86_400
    assert cert.key_id == 20260501  # the issuer key of the Beijing day
    # Opening again (another phone) binds the new key to the same account and agreement.
    other = Phone()
    again = world.transit.open(1, APP, other.public_key, PIN)
    assert (again.id, again.agreement_no, again.public_key) == (
        account.id,
        account.agreement_no,
        other.public_key,
    )
    assert len(world.agreements.agreements_of(1)) == 1
    assert code_of(lambda: world.transit.certificate(2, APP)) == "transit_not_open"


def test_a_new_day_has_a_new_issuer_key_and_readers_download_the_newest(
    world: TransitWorld,
) -> None:
    world.open()
    world.clock.advance(86_400)
    world.transit.certificate(1, APP)
    keys = world.transit.issuer_keys()
    assert [key.key_id for key in keys] == [20260502, 20260501]


# Settling rides -----------------------------------------------------------------------------


def test_a_metro_ride_is_priced_by_zones_and_deducted_once(world: TransitWorld) -> None:
    phone = world.open()
    records = world.ride(phone, world.now_s - 900)  # zone 1 -> zone 3: 4.00
    result = world.settle("M-1", records, amount_fen=4_00, user_id=public_user_id(1))
    assert (result.status, result.fare_fen, result.retry) == (RideStatus.PAID, 4_00, False)
    trade = world.trades()[(APP, "M-1")]
    assert (trade.trade_no, trade.total_fen, trade.buyer_user_id, trade.merchant_id) == (
        result.trade_no,
        4_00,
        1,
        7,
    )
    assert world.balance() == 5_000_00 - 4_00
    assert world.settle("M-1", records, amount_fen=4_00) == result  # the upload again
    assert world.balance() == 5_000_00 - 4_00
    # The same codes under another number, or the number with other records: refused.
    again = world.settle("M-2", records)
    assert (again.status, again.error_code) == (None, "transit_code_replayed")
    other = world.settle("M-1", world.ride(phone, world.now_s - 1800))
    assert other.error_code == "transit_record_reused"
    assert [r.out_trade_no for r in world.rides()] == ["M-1"]


def test_fares_no_tap_out_bus_and_the_operators_own_amount(world: TransitWorld) -> None:
    phone = world.open()
    bus_phone = world.open(app_id=BUS_APP)
    start = world.now_s - 3600
    no_out = world.settle("M-3", world.ride(phone, start, "A1", None))
    assert no_out.fare_fen == 5_00  # no tap-out: the highest fare
    same_zone = world.settle("M-4", world.ride(phone, start + 700, "A1", "A2"))
    assert same_zone.fare_fen == 2_00
    wrong = world.settle("M-5", world.ride(phone, start + 1400), amount_fen=3_00)
    assert (wrong.status, wrong.error_code) == (None, "transit_amount_mismatch")
    bus_tap = Tap(TapKind.BUS, "L12", start, bus_phone.code(start)).to_text()
    bus = world.settle("B-1", [bus_tap], app_id=BUS_APP)
    assert (bus.status, bus.fare_fen) == (RideStatus.PAID, 2_00)
    # A metro code is not a bus code: its certificate names another operator.
    metro_tap = Tap(TapKind.BUS, "L12", start + 10, phone.code(start + 10)).to_text()
    refused = world.settle("B-3", [metro_tap], app_id=BUS_APP)
    assert refused.error_code == "transit_wrong_operator"
    assert world.balance() == 5_000_00 - 5_00 - 2_00 - 2_00  # one user, both operators


def test_records_are_checked_like_a_reader_would(world: TransitWorld) -> None:
    phone = world.open()
    at = world.now_s - 900
    records = world.ride(phone, at)
    kind, station, tapped, code = records[0].split("|")
    late = f"{kind}|{station}|{int(tapped) + 91}|{code}"  # 60 s + 30 s skew, one more
    future = world.ride(phone, world.now_s + 31)
    stranger = Phone()
    stranger.certificate = phone.certificate  # someone else's key over the certificate
    forged = world.ride(stranger, at + 100)
    cases = {
        "late": ([late, records[1]], "transit_code_expired"),
        "future": (future, "transit_record_invalid"),
        "forged": (forged, "transit_user_signature_bad"),
        "reversed": ([records[1], records[0]], "transit_record_invalid"),
    }
    for name, (bad, error_code) in cases.items():
        assert world.settle(f"BAD-{name}", bad).error_code == error_code, name
    assert world.rides() == []
    assert world.balance() == 5_000_00


def test_limits_come_from_settings() -> None:
    settings = Settings(
        transit_ride_fare_fen_max=4_00,
        transit_credit_fen_max=5_00,
        transit_certificate_valid_s=86_400,
        transit_code_valid_s=30,
        transit_clock_skew_s=10,
    )
    limits = transit_limits(settings)
    assert (limits.ride_fare_fen_max, limits.credit_fen_max) == (4_00, 5_00)
    assert (limits.certificate_valid_s, limits.code_valid_s, limits.clock_skew_s) == (
        86_400,
        30,
        10,
    )
    assert transit_limits(Settings()) == TransitLimits()
    world = TransitWorld(dataclasses.replace(limits, ride_fare_fen_max=5_00))
    phone = world.open()
    cert = Certificate.from_bytes(phone.certificate)
    assert (cert.valid_until_s, cert.credit_limit_fen) == (world.now_s + 86_400, 5_00)
    at = world.now_s - 900
    records = world.ride(phone, at)
    kind, station, tapped, code = records[0].split("|")
    stale = f"{kind}|{station}|{int(tapped) + 41}|{code}"  # 30 s + 10 s skew, one more
    assert world.settle("L-1", [stale, records[1]]).error_code == "transit_code_expired"
    fresh = f"{kind}|{station}|{int(tapped) + 40}|{code}"
    assert world.settle("L-2", [fresh, records[1]]).status is RideStatus.PAID
    with pytest.raises(AssertionError):  # an operator's fare above the cap is not saved
        world.transit.save_operator(
            Operator(APP, 7, "x", FareRule(OperatorKind.BUS, flat_fen=5_01))
        )


# Arrears, repayment, closing ----------------------------------------------------------------


def test_arrears_suspend_up_to_the_guarantee_and_repay_restores(world: TransitWorld) -> None:
    phone = world.open()
    world.set_balance(1, 3_00)
    start = world.now_s - 7200
    uploads = {f"A-{n}": world.ride(phone, start + n * 700) for n in range(9)}
    results = [world.settle(number, records) for number, records in uploads.items()]
    assert [r.status for r in results] == [RideStatus.OWED] * 7 + [RideStatus.REFUSED] * 2
    assert results[0].error_code == "USER_ARREARS"
    assert results[-1].error_code == "CREDIT_LIMIT_EXCEEDED"
    account = world.transit.account(1, APP)
    assert (account.status, account.owed_fen, account.owed_count) == (
        AccountStatus.SUSPENDED,
        28_00,
        7,
    )
    assert world.transit.blacklist(APP, 1, 500) == [public_user_id(1)]
    assert code_of(lambda: world.transit.certificate(1, APP)) == "transit_suspended"
    assert code_of(lambda: world.transit.close(1, APP)) == "transit_has_debt"
    assert world.trades() == {}  # nothing was charged
    assert code_of(lambda: world.transit.repay(1, APP, PIN)) == "buyer_balance_not_enough"
    world.set_balance(1, 30_00)
    assert code_of(lambda: world.transit.repay(1, APP, "000000")) == "payment_password_wrong"
    restored = world.transit.repay(1, APP, PIN)
    assert (restored.status, restored.owed_fen, restored.owed_count) == (AccountStatus.ACTIVE, 0, 0)
    assert world.balance() == 2_00
    repaid = [r for r in world.rides() if r.status is RideStatus.REPAID]
    assert [world.trades()[(APP, r.out_trade_no)].trade_no for r in repaid] == [
        r.trade_no for r in repaid
    ]
    assert world.transit.blacklist(APP, 1, 500) == []
    # The upload of a repaid ride again answers with its repayment's trade.
    again = world.settle("A-0", uploads["A-0"])
    assert again.status is RideStatus.REPAID and again.trade_no == repaid[0].trade_no
    assert world.transit.repay(1, APP, PIN) == restored  # nothing owed: nothing to do


def test_close_waits_without_debt_then_ends_the_agreement(world: TransitWorld) -> None:
    world.open()
    closing = world.transit.close(1, APP)
    assert closing.status is AccountStatus.CLOSING
    [(kind, _key, due_us)] = world.db.state["jobs"]
    assert (kind, due_us) == (JOB_CLOSE, START_US + 3 * 86_400 * US_PER_S)
    assert world.transit.close(1, APP) == closing  # a double submit
    assert code_of(lambda: world.transit.certificate(1, APP)) == "transit_closing"
    assert world.transit.finish_close(closing.id) is False
    world.clock.advance(3 * 86_400)
    assert world.transit.finish_close(closing.id) is True
    assert code_of(lambda: world.transit.account(1, APP)) == "transit_not_open"
    [agreement] = world.agreements.agreements_of(1)
    assert agreement.status is AgreementStatus.UNSIGN


# Recovery of a ride a crash left PENDING -----------------------------------------------------


def test_a_crash_before_the_deduction_leaves_pending_and_the_sweep_charges_once(
    world: TransitWorld,
) -> None:
    phone = world.open()
    records = world.ride(phone, world.now_s - 900)
    world.withholding_seen.crash = SystemExit("the process died")
    with pytest.raises(SystemExit):
        world.settle("C-1", records)
    [ride] = world.rides()
    assert ride.status is RideStatus.PENDING and world.trades() == {}
    world.withholding_seen.crash = None

    assert world.transit.recover_pending() == 0  # too fresh: an upload may be in flight
    world.clock.advance(RECOVER_AFTER_S + 1)
    assert world.transit.recover_pending() == 1
    [ride] = world.rides()
    assert ride.status is RideStatus.PAID and ride.trade_no
    assert world.balance() == 5_000_00 - 4_00
    calls = world.withholding_seen.calls
    assert world.transit.recover_pending() == 0  # nothing left, nothing deducted
    retry = world.settle("C-1", records)  # the operator's retry: the same trade
    assert (retry.status, retry.trade_no) == (RideStatus.PAID, ride.trade_no)
    assert world.withholding_seen.calls == calls
    assert world.balance() == 5_000_00 - 4_00


def test_a_retryable_failure_answers_need_retry_and_the_retry_finishes(
    world: TransitWorld,
) -> None:
    phone = world.open()
    records = world.ride(phone, world.now_s - 900)
    world.withholding_seen.crash = Retryable("the database is busy")
    first = world.settle("C-2", records)
    assert (first.status, first.retry) == (None, True)
    assert world.rides()[0].status is RideStatus.PENDING
    world.clock.advance(RECOVER_AFTER_S + 1)
    assert world.transit.recover_pending() == 0  # still failing: left for the next pass
    world.withholding_seen.crash = None
    retry = world.settle("C-2", records)
    assert (retry.status, retry.retry) == (RideStatus.PAID, False)
    assert world.transit.recover_pending() == 0
    assert world.balance() == 5_000_00 - 4_00


def test_the_sweep_makes_a_stuck_ride_owed_when_the_money_is_gone(world: TransitWorld) -> None:
    phone = world.open()
    records = world.ride(phone, world.now_s - 900)
    world.withholding_seen.crash = SystemExit("the process died")
    with pytest.raises(SystemExit):
        world.settle("C-3", records)
    world.withholding_seen.crash = None
    world.set_balance(1, 1_00)
    world.clock.advance(RECOVER_AFTER_S + 1)
    assert world.transit.recover_pending() == 1
    assert world.rides()[0].status is RideStatus.OWED
    account = world.transit.account(1, APP)
    assert (account.status, account.owed_fen) == (AccountStatus.SUSPENDED, 4_00)
