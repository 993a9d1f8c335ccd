"""Transit ride codes: open the service, certify the phone's key, settle uploaded rides post-pay,
arrears and suspension, repayment, closing (alipay-product.md §10).

* Open: the user signs a withholding agreement with the operator (services/agreements.py,
  called, not copied) with the payment password, and the account holds the phone's public key.
  Opening again with the password binds a new phone key (a new browser or phone).
* Certificates are stateless signatures by today's issuer key (made on first use, one per
  Beijing day; readers download the newest `issuer_keys_kept`).
* Settle: each uploaded ride is checked like a reader would (signatures, certificate, age at
  the tap, one code one ride), priced by the operator's fare rule, recorded PENDING under the
  operator's out_trade_no (unique), then deducted through the agreement and marked PAID in one
  transaction (services/withholding.py's `deduct_in`, under the account's and the ride's row
  locks, only while the ride is PENDING), so no crash can leave a paid trade behind an unpaid
  ride. A refused deduction makes the ride OWED and the account SUSPENDED (on the blacklist) in
  one transaction, unless it would pass the issuer's credit guarantee (then REFUSED: the
  operator's loss). Every state change is compare-and-set under the account's row lock, so
  racing uploads of one ride deduct once and count the debt once.
* Recovery: a crash between recording a ride and deducting it leaves it PENDING; the operator's
  retry of the upload finishes it, and so does a sweep (`recover_pending`) for rides PENDING
  longer than `RECOVER_AFTER_S`. Both take the same locked PENDING -> PAID/OWED path: once.
* Repay: all owed rides paid by the user (password) in one transaction, under the same trade
  numbers, so a ride is never paid twice; the account is ACTIVE again, off the blacklist.
* Close: only without debt; CLOSING for `close_wait_s` (late uploads still settle), then a job
  closes it and ends the agreement.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from paybao.domain.account_class import china_date
from paybao.domain.agreements import Product
from paybao.domain.coupons import BEST_COUPONS, CouponChoice
from paybao.domain.errors import DomainError, InvalidInput, Retryable
from paybao.domain.transit import (
    AccountStatus,
    AmountMismatch,
    BatchTooLarge,
    Certificate,
    CodeReplayed,
    NotTransitOperator,
    ReaderView,
    RecordInvalid,
    RecordReused,
    Ride,
    RideCode,
    RideStatus,
    SignatureCheck,
    Tap,
    TransitClosing,
    TransitHasDebt,
    TransitLimits,
    TransitNotOpen,
    TransitSuspended,
    check_public_key,
    check_taps,
    public_user_id,
    ride_fare_fen,
    user_of_public_id,
    verify_code,
)
from paybao.services.agreements import AgreementExists, AgreementRef, NewSignRequest
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx
from paybao.services.trades import NewTrade, TradeRef
from paybao.services.transit_records import (
    IssuerKey,
    OfflineTrade,
    Operator,
    RideRecord,
    SettleResult,
    TransitAccount,
    TransitStore,
)
from paybao.services.withholding import DeductionRequest

T = TypeVar("T")
SIGN_SCENE = "INDUSTRY|TRANSIT"
JOB_CLOSE = "transit.close"
OUT_TRADE_NO_LENGTH_MAX = 64
SUBJECT_LENGTH_MAX = 64
RECOVER_AFTER_S = 120  # an upload in flight finishes well within this; older PENDING is stuck
RECOVER_BATCH_MAX = 50  # rides one sweep pass finishes
REPAY_RIDES_MAX = 200  # more than the credit guarantee allows at the smallest fare
LIST_LIMIT_MAX = 100
BLACKLIST_PAGE_MAX = 500
_S = AccountStatus
_R = RideStatus


class Issuer(Protocol):
    def new_key(self, key_id: int) -> tuple[str, bytes]: ...

    def sign(self, key_id: int, sealed: str, message: bytes) -> bytes: ...


class Users(Protocol):
    def run_paying(self, work: Callable[[Tx], T]) -> T: ...

    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...


class Agreements(Protocol):
    def request_sign(self, new: NewSignRequest) -> Any: ...

    def sign(self, token: str, user_id: int, payment_password: str) -> Any: ...

    def query(self, app_id: str, ref: AgreementRef) -> Any: ...

    def unsign_by_user(self, user_id: int, agreement_no: str) -> Any: ...


class Withholding(Protocol):
    def deduct_in(self, tx: Tx, request: DeductionRequest) -> Any: ...


class Trades(Protocol):
    def out_no_taken_in(self, tx: Tx, app_id: str, out_trade_no: str) -> bool: ...

    def find_in(self, tx: Tx, app_id: str, ref: TradeRef) -> Any: ...

    def create_in(self, tx: Tx, new: NewTrade, merchant: Any) -> Any: ...

    def pay_in(
        self,
        tx: Tx,
        trade: Any,
        buyer_user_id: int,
        *,
        funding: str = ...,
        coupons: CouponChoice = ...,
    ) -> Any: ...


class Merchants(Protocol):
    def app(self, app_id: str) -> Any: ...

    def merchant_in(self, tx: Tx, merchant_id: int) -> Any: ...


class Jobs(Protocol):
    def schedule_in(
        self, tx: Tx, kind: str, key: str, due_at_us: int, payload: dict[str, Any] | None = None
    ) -> bool: ...


class TransitService:
    def __init__(
        self,
        *,
        db: Database,
        store: TransitStore,
        clock: Clock,
        issuer: Issuer,
        check: SignatureCheck,
        users: Users,
        agreements: Agreements,
        withholding: Withholding,
        trades: Trades,
        merchants: Merchants,
        jobs: Jobs,
        limits: TransitLimits,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.issuer = issuer
        self.check = check
        self.users = users
        self.agreements = agreements
        self.withholding = withholding
        self.trades = trades
        self.merchants = merchants
        self.jobs = jobs
        self.limits = limits

    # Operators ------------------------------------------------------------------------------

    def operator(self, app_id: str) -> Operator:
        with self.db.read() as tx:
            found = self.store.operator(tx, app_id)
        if found is None:
            raise NotTransitOperator("no such transit operator")
        return found

    def operators(self) -> list[Operator]:
        with self.db.read() as tx:
            return self.store.operators(tx, LIST_LIMIT_MAX)

    def save_operator(self, operator: Operator) -> None:
        assert operator.fare.max_fen <= self.limits.ride_fare_fen_max, "fares over the cap"
        self.merchants.app(operator.app_id)  # the app exists
        self.db.run(lambda tx: self.store.save_operator(tx, operator))

    # Opening, keys, certificates ------------------------------------------------------------

    def open(
        self, user_id: int, app_id: str, public_key: bytes, payment_password: str
    ) -> TransitAccount:
        """Open the ride code for an operator (signs the withholding agreement), or bind a new
        phone key to the open one. Both need the payment password."""
        check_public_key(public_key)
        operator = self.operator(app_id)
        with self.db.read() as tx:
            live = self.store.live_account(tx, user_id, app_id)
        if live is not None:
            return self._rebind(live, public_key, payment_password)
        agreement_no = self._signed_agreement(user_id, operator, payment_password)

        def work(tx: Tx) -> TransitAccount:
            existing = self.store.live_account(tx, user_id, app_id, for_update=True)
            if existing is not None:  # a double submit: the first one opened it
                return existing
            self.users.check_payment_password_in(tx, user_id, payment_password)
            account = TransitAccount(
                id=0,
                user_id=user_id,
                app_id=app_id,
                merchant_id=operator.merchant_id,
                agreement_no=agreement_no,
                status=_S.ACTIVE,
                public_key=public_key,
                credit_limit_fen=self.limits.credit_fen_max,
                owed_fen=0,
                owed_count=0,
                opened_at_us=self.clock.now_us(),
                live_key=f"{user_id}|{app_id}",
            )
            return replace(account, id=self.store.insert_account(tx, account))

        return self.users.run_paying(work)

    def _signed_agreement(self, user_id: int, operator: Operator, payment_password: str) -> str:
        """The user's signed agreement with the operator: a sign request signed at once, or
        the one a crashed earlier opening left signed (same external number)."""
        new = NewSignRequest(
            app_id=operator.app_id,
            product=Product.GENERAL_WITHHOLDING,
            sign_scene=SIGN_SCENE,
            fingerprint="transit-ride-code",
            external_agreement_no=f"TRANSIT{user_id}",
        )
        try:
            temp = self.agreements.request_sign(new)
        except AgreementExists:
            ref = AgreementRef(
                product=Product.GENERAL_WITHHOLDING,
                sign_scene=SIGN_SCENE,
                external_agreement_no=new.external_agreement_no,
            )
            found = self.agreements.query(operator.app_id, ref)
            if found.user_id != user_id:
                raise InvalidInput("this agreement belongs to someone else") from None
            return str(found.agreement_no)
        signed = self.agreements.sign(temp.sign_token, user_id, payment_password)
        return str(signed.agreement_no)

    def _rebind(self, live: TransitAccount, public_key: bytes, password: str) -> TransitAccount:
        def work(tx: Tx) -> TransitAccount:
            account = self._locked(tx, live.id)
            if account.status is _S.CLOSING:
                raise TransitClosing("the ride code is closing")
            self.users.check_payment_password_in(tx, account.user_id, password)
            expect = {"status": account.status, "public_key": account.public_key}
            changes = {"public_key": public_key}
            changed = self.store.update_account(tx, account.id, expect, changes)
            assert changed, "the row was read for update"
            return replace(account, public_key=public_key)

        return self.users.run_paying(work)

    def account(self, user_id: int, app_id: str) -> TransitAccount:
        with self.db.read() as tx:
            found = self.store.live_account(tx, user_id, app_id)
        if found is None:
            raise TransitNotOpen("the ride code is not open for this operator")
        return found

    def accounts_of(self, user_id: int) -> list[TransitAccount]:
        with self.db.read() as tx:
            return self.store.accounts_of(tx, user_id, LIST_LIMIT_MAX)

    def certificate(self, user_id: int, app_id: str) -> bytes:
        """A fresh certificate for the phone's key: only for an ACTIVE account."""
        account = self.account(user_id, app_id)
        if account.status is _S.SUSPENDED:
            raise TransitSuspended("rides are owed: repay to ride again")
        if account.status is _S.CLOSING:
            raise TransitClosing("the ride code is closing")
        key = self.db.run(self._todays_key_in)
        now_s = self.clock.now_us() // US_PER_S
        draft = Certificate(
            user_id=public_user_id(user_id),
            app_id=int(app_id),
            public_key=account.public_key,
            valid_until_s=now_s + self.limits.certificate_valid_s,
            credit_limit_fen=account.credit_limit_fen,
            key_id=key.key_id,
        )
        signature = self.issuer.sign(key.key_id, key.sealed_private, draft.body())
        return replace(draft, signature=signature).to_bytes()

    def _todays_key_in(self, tx: Tx) -> IssuerKey:
        """Today's issuer key (Beijing date), made by the first caller of the day."""
        key_id = int(china_date(self.clock.now()).strftime("%Y%m%d"))
        key = self.store.issuer_key(tx, key_id)
        if key is None:
            sealed, public = self.issuer.new_key(key_id)
            key = IssuerKey(key_id, public, sealed, self.clock.now_us())
            self.store.insert_issuer_key(tx, key)
        return key

    def issuer_keys(self) -> list[IssuerKey]:
        """What readers download: the newest keys, today's made if it is not yet."""
        self.db.run(self._todays_key_in)
        with self.db.read() as tx:
            return self.store.issuer_keys(tx, newest=self.limits.issuer_keys_kept)

    def blacklist(self, app_id: str, page_index: int, page_size: int) -> list[int]:
        """Public user ids of this operator's suspended users, a page at a time."""
        if not (0 < page_size <= BLACKLIST_PAGE_MAX) or page_index < 1:
            raise InvalidInput("page_index >= 1, page_size 1..500", code="transit_page_invalid")
        self.operator(app_id)
        with self.db.read() as tx:
            users = self.store.blacklist(tx, app_id, (page_index - 1) * page_size, page_size)
        return [public_user_id(user_id) for user_id in users]

    # Checking records -----------------------------------------------------------------------

    def verify_record(self, app_id: str, record: str) -> RideCode:
        """`record.verify`: a tap record (or a bare code, checked as of now) the way the
        platform checks uploads: every issuer key ever made counts, the blacklist does not
        (the reader decided offline)."""
        self.operator(app_id)
        tap = Tap.from_text(record) if "|" in record else None
        code = tap.code if tap is not None else record
        at_s = tap.at_s if tap is not None else self.clock.now_us() // US_PER_S
        return self._verified(app_id, code, at_s)

    def _verified(self, app_id: str, code_text: str, at_s: int) -> RideCode:
        now_s = self.clock.now_us() // US_PER_S
        if at_s > now_s + self.limits.clock_skew_s:
            raise RecordInvalid("the record is dated in the future")
        if now_s - at_s > self.limits.upload_window_s:
            raise RecordInvalid("the record is too old to settle")
        code = RideCode.from_text(code_text)
        with self.db.read() as tx:
            keys = self.store.issuer_keys(tx, ids=[code.certificate.key_id])
        view = ReaderView(
            app_id=int(app_id),
            issuer_keys={key.key_id: key.public_key for key in keys},
            blacklist=(),
            skew_s=self.limits.clock_skew_s,
            code_valid_s=self.limits.code_valid_s,
        )
        return verify_code(code_text, view, at_s, self.check)

    # Settling uploaded rides ----------------------------------------------------------------

    def settle(self, app_id: str, trades: list[OfflineTrade]) -> list[SettleResult]:
        """`trade.settle`: each ride on its own; a refusal answers for that ride only."""
        if not 0 < len(trades) <= self.limits.batch_size_max:
            raise BatchTooLarge(f"1..{self.limits.batch_size_max} rides per call")
        operator = self.operator(app_id)
        results = []
        for trade in trades:
            try:
                results.append(self._settle_one(operator, trade))
            except Retryable as error:
                results.append(_refused(trade, error, retry=True))
            except DomainError as error:
                results.append(_refused(trade, error))
        return results

    def _settle_one(self, operator: Operator, offline: OfflineTrade) -> SettleResult:
        draft, digests = self._priced(operator, offline)
        ride = self.db.run(lambda tx: self._recorded_in(tx, draft, digests))
        if ride.status is not _R.PENDING:
            return _result(ride)
        return _result(self._deduct(ride))

    def _priced(self, operator: Operator, offline: OfflineTrade) -> tuple[RideRecord, list[str]]:
        """The ride as a PENDING record, after checking every tap like a reader would."""
        out_trade_no = offline.out_trade_no
        if not (0 < len(out_trade_no) <= OUT_TRADE_NO_LENGTH_MAX) or not out_trade_no.isascii():
            raise RecordInvalid("out_trade_no is 1..64 ASCII characters")
        if not 0 < len(offline.records) <= self.limits.records_per_ride_max:
            raise RecordInvalid("a ride has one or two records")
        first, last = check_taps(operator.fare, [Tap.from_text(r) for r in offline.records])
        taps = [first] if last is None else [first, last]
        codes = tuple(self._verified(operator.app_id, tap.code, tap.at_s) for tap in taps)
        user_ids = {code.certificate.user_id for code in codes}
        if len(user_ids) != 1:
            raise RecordInvalid("the records are of different users")
        public_id = user_ids.pop()
        if offline.user_id is not None and offline.user_id != public_id:
            raise RecordInvalid("user_id is not the user of the records")
        fare_fen = ride_fare_fen(
            operator.fare, Ride(public_id, first, last, codes), self.limits.ride_fare_fen_max
        )
        if offline.amount_fen is not None and offline.amount_fen != fare_fen:
            raise AmountMismatch(f"the fare of this ride is {fare_fen} fen")
        subject = (offline.subject or operator.name)[:SUBJECT_LENGTH_MAX]
        fingerprint = hashlib.sha256(
            "|".join((*offline.records, str(fare_fen), subject)).encode()
        ).hexdigest()
        draft = RideRecord(
            id=0,
            account_id=0,
            app_id=operator.app_id,
            out_trade_no=out_trade_no,
            user_id=user_of_public_id(public_id),
            fare_fen=fare_fen,
            status=_R.PENDING,
            fingerprint=fingerprint,
            subject=subject,
            first_station=first.station,
            first_at_us=first.at_s * US_PER_S,
            last_station=last.station if last else None,
            last_at_us=last.at_s * US_PER_S if last else None,
            created_at_us=self.clock.now_us(),
        )
        return draft, sorted({code.digest for code in codes})

    def _recorded_in(self, tx: Tx, draft: RideRecord, digests: list[str]) -> RideRecord:
        existing = self.store.ride(tx, draft.app_id, draft.out_trade_no)
        if existing is not None:
            if existing.fingerprint != draft.fingerprint:
                raise RecordReused("this out_trade_no was used for another ride")
            return existing
        if self._trade_exists_in(tx, draft.app_id, draft.out_trade_no):
            # The operator's number names another payment of its app: refusing the ride here
            # keeps the deduction from failing on it, which would make the rider owe.
            raise RecordReused("this out_trade_no was used by another payment of this app")
        for digest in digests:
            if self.store.ride_of_code(tx, digest) is not None:
                # A twin upload may have committed this very ride since the read above.
                twin = self.store.ride(tx, draft.app_id, draft.out_trade_no)
                if twin is not None and twin.fingerprint == draft.fingerprint:
                    return twin
                raise CodeReplayed("a code in these records was settled in another ride")
        account = self.store.live_account(tx, draft.user_id, draft.app_id)
        if account is None:
            raise TransitNotOpen("the user has no open ride code with this operator")
        ride = replace(draft, account_id=account.id)
        return replace(ride, id=self.store.insert_ride(tx, ride, digests))

    def _trade_exists_in(self, tx: Tx, app_id: str, out_trade_no: str) -> bool:
        return self.trades.out_no_taken_in(tx, app_id, out_trade_no)

    def _deduct(self, ride: RideRecord) -> RideRecord:
        """Deduct a PENDING ride and mark it PAID in one transaction; a refusal (no money, an
        ended agreement, a withholding cap) rolls that back and makes the ride OWED."""
        try:
            return self.db.run(lambda tx: self._paid_in(tx, ride))
        except Retryable:
            raise  # left PENDING: the operator's retry or the recovery sweep finishes it
        except DomainError as error:
            refusal = error
            return self.db.run(lambda tx: self._owed_in(tx, ride, refusal))

    def _paid_in(self, tx: Tx, ride: RideRecord) -> RideRecord:
        """PENDING -> PAID with the deduction's trade, under the account's lock (taken before
        the agreement's, as everywhere here); a ride already settled is answered as it is."""
        account = self._locked(tx, ride.account_id)
        current = self.store.ride(tx, ride.app_id, ride.out_trade_no, for_update=True)
        assert current is not None
        if current.status is not _R.PENDING:
            return current
        request = DeductionRequest(
            new=_new_trade(current),
            agreement_no=account.agreement_no,
            product=Product.GENERAL_WITHHOLDING,
        )
        trade = self.withholding.deduct_in(tx, request)
        trade_no = str(trade.trade_no)
        changes = {"status": _R.PAID, "trade_no": trade_no, "settled_at_us": self.clock.now_us()}
        changed = self.store.update_ride(tx, current.id, {"status": _R.PENDING}, changes)
        assert changed, "the ride was read for update"
        return replace(current, status=_R.PAID, trade_no=trade_no)

    def recover_pending(self) -> int:
        """Sweep: finish rides a crash left PENDING (recorded, never deducted) longer than
        `RECOVER_AFTER_S`, oldest first; the number finished. A ride whose deduction cannot
        run now stays PENDING for the next pass (or the operator's retry of the upload)."""
        before_us = self.clock.now_us() - RECOVER_AFTER_S * US_PER_S
        with self.db.read() as tx:
            stuck = self.store.pending_rides(tx, before_us, RECOVER_BATCH_MAX)
        finished = 0
        for ride in stuck:
            try:
                done = self._deduct(ride)
            except Retryable:
                continue
            finished += done.status is not _R.PENDING
        return finished

    def _owed_in(self, tx: Tx, ride: RideRecord, error: DomainError) -> RideRecord:
        """The deduction was refused: the ride is owed and the user suspended, up to the
        issuer's credit guarantee; beyond it the ride is refused."""
        account = self._locked(tx, ride.account_id)
        current = self.store.ride(tx, ride.app_id, ride.out_trade_no, for_update=True)
        assert current is not None
        if current.status is not _R.PENDING:
            return current
        over = account.owed_fen + current.fare_fen > account.credit_limit_fen
        status = _R.REFUSED if over else _R.OWED
        reason = f"{error.code}: {error.message}"[:200]
        changes = {"status": status, "owed_reason": reason, "settled_at_us": self.clock.now_us()}
        changed = self.store.update_ride(tx, current.id, {"status": _R.PENDING}, changes)
        assert changed, "the ride was read for update"
        if not over:
            self._debt_in(tx, account, current.fare_fen, 1)
        return replace(current, status=status, owed_reason=reason)

    def _debt_in(self, tx: Tx, account: TransitAccount, fen: int, count: int) -> None:
        owed_fen, owed_count = account.owed_fen + fen, account.owed_count + count
        assert owed_fen >= 0 and owed_count >= 0, (owed_fen, owed_count)
        assert (owed_fen == 0) == (owed_count == 0)
        status = account.status
        if owed_fen > 0 and status in (_S.ACTIVE, _S.CLOSING):
            status = _S.SUSPENDED  # on the blacklist; a pending close is dropped
        elif owed_fen == 0 and status is _S.SUSPENDED:
            status = _S.ACTIVE
        expect = {"owed_fen": account.owed_fen, "status": account.status}
        changes = {"owed_fen": owed_fen, "owed_count": owed_count, "status": status}
        changed = self.store.update_account(tx, account.id, expect, changes)
        assert changed, "the account was read for update"

    def _locked(self, tx: Tx, account_id: int) -> TransitAccount:
        account = self.store.account(tx, account_id, for_update=True)
        assert account is not None
        return account

    # The user's debt, closing ---------------------------------------------------------------

    def rides(self, user_id: int, app_id: str, limit: int = 20) -> list[RideRecord]:
        assert 0 < limit <= LIST_LIMIT_MAX
        account = self.account(user_id, app_id)
        with self.db.read() as tx:
            return self.store.rides_of(tx, account.id, limit)

    def repay(self, user_id: int, app_id: str, payment_password: str) -> TransitAccount:
        """Pay every owed ride now (all or none), each under its own trade number: a ride a
        late deduction paid meanwhile is not paid again. ACTIVE again, off the blacklist."""
        live = self.account(user_id, app_id)

        def work(tx: Tx) -> TransitAccount:
            account = self._locked(tx, live.id)
            if account.owed_fen == 0:
                return account
            self.users.check_payment_password_in(tx, user_id, payment_password)
            merchant = self.merchants.merchant_in(tx, account.merchant_id)
            owed = self.store.rides_of(tx, account.id, REPAY_RIDES_MAX, _R.OWED)
            assert owed and len(owed) == account.owed_count, "owed rides match the account"
            now_us = self.clock.now_us()
            for ride in owed:
                trade = self.trades.create_in(tx, _new_trade(ride), merchant)
                # The user's best coupons, as on a deduction (services/withholding.py).
                paid = self.trades.pay_in(tx, trade, user_id, coupons=BEST_COUPONS)
                changes = {"status": _R.REPAID, "trade_no": paid.trade_no, "settled_at_us": now_us}
                changed = self.store.update_ride(tx, ride.id, {"status": _R.OWED}, changes)
                assert changed, "the account lock holds the rides"
            total_fen = sum(ride.fare_fen for ride in owed)
            self._debt_in(tx, account, -total_fen, -len(owed))
            return self._locked(tx, account.id)

        return self.users.run_paying(work)

    def close(self, user_id: int, app_id: str) -> TransitAccount:
        """Ask to close: only without debt. Rides still being uploaded settle meanwhile."""
        live = self.account(user_id, app_id)

        def work(tx: Tx) -> TransitAccount:
            account = self._locked(tx, live.id)
            if account.owed_fen > 0 or account.status is _S.SUSPENDED:
                raise TransitHasDebt("repay the owed rides before closing")
            if account.status is _S.CLOSING:
                return account
            due_us = self.clock.now_us() + self.limits.close_wait_s * US_PER_S
            changes = {"status": _S.CLOSING, "close_after_us": due_us}
            changed = self.store.update_account(tx, account.id, {"status": _S.ACTIVE}, changes)
            assert changed, "the row was read for update"
            self.jobs.schedule_in(tx, JOB_CLOSE, f"{account.id}:{due_us}", due_us)
            return replace(account, status=_S.CLOSING, close_after_us=due_us)

        return self.db.run(work)

    def finish_close(self, account_id: int) -> bool:
        """The close job: CLOSING and past the wait -> CLOSED, the agreement ended. True when
        the job is done (closed, or a debt that came meanwhile suspended the account and
        dropped the close); False to try again later (a ride is mid-deduction)."""

        def work(tx: Tx) -> TransitAccount | bool:
            account = self._locked(tx, account_id)
            if account.status is not _S.CLOSING:
                return True
            due = account.close_after_us or 0
            if due > self.clock.now_us() or self.store.rides_of(tx, account.id, 1, _R.PENDING):
                return False
            changes = {"status": _S.CLOSED, "live_key": None, "closed_at_us": self.clock.now_us()}
            changed = self.store.update_account(tx, account.id, {"status": _S.CLOSING}, changes)
            assert changed, "the row was read for update"
            return account

        closed = self.db.run(work)
        if isinstance(closed, bool):
            return closed
        # The user may have ended the agreement on the agreements page already.
        with contextlib.suppress(DomainError):
            self.agreements.unsign_by_user(closed.user_id, closed.agreement_no)
        return True


def _new_trade(ride: RideRecord) -> NewTrade:
    """The ride's trade, the same for the deduction and a repayment (one trade per ride)."""
    return NewTrade(
        app_id=ride.app_id,
        out_trade_no=ride.out_trade_no,
        product="GENERAL_WITHHOLDING",
        subject=ride.subject,
        total_fen=ride.fare_fen,
        fingerprint=ride.fingerprint,
    )


def _result(ride: RideRecord) -> SettleResult:
    error_code = error_message = None
    if ride.status in (_R.OWED, _R.REFUSED):
        error_code = "USER_ARREARS" if ride.status is _R.OWED else "CREDIT_LIMIT_EXCEEDED"
        error_message = ride.owed_reason
    return SettleResult(
        out_trade_no=ride.out_trade_no,
        status=ride.status,
        trade_no=ride.trade_no,
        fare_fen=ride.fare_fen,
        error_code=error_code,
        error_message=error_message,
        retry=ride.status is _R.PENDING,
    )


def _refused(trade: OfflineTrade, error: DomainError, *, retry: bool = False) -> SettleResult:
    return SettleResult(
        out_trade_no=trade.out_trade_no,
        status=None,
        error_code=error.code,
        error_message=error.message,
        retry=retry,
    )


__all__ = ["JOB_CLOSE", "SIGN_SCENE", "TransitService"]
