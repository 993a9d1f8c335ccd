"""Partner cash top-up codes (现金充值码): the user makes a code, pays cash at a partner's counter,
the partner's API call credits the wallet from the partner's prefund.

- `create`: a code for a FIXED amount (10 to 5,000 CNY, chosen by the user: the counter takes
  exactly that much cash), valid 30 minutes, single use; at most 3 open codes per user. The
  account-class room is checked here (to tell the user early) and again when it is redeemed
  (the one that counts).
- `redeem` (partner API): in ONE transaction the code moves `open -> redeemed` by
  compare-and-set (two counters racing for one code: exactly one wins, the other gets
  `cash_code_used`) and the ledger moves the amount from the partner's prefund to the wallet
  (`cashtopup:<id>`, code 9902); a prefund too small refuses it (`cash_prefund_insufficient`)
  and nothing is written. Idempotent by the partner's request number: a retry answers the first
  redemption; the number reused for another code or amount is `partner_request_no_reused`.
- `reverse` (partner API): the counter voided the sale and hands the cash back. Allowed on the
  China day of the redemption only, and only while the wallet still holds the money (the
  ledger refuses to overdraw it: `cash_topup_spent`); `cashreverse:<id>` (code 9904) returns
  it to the prefund. Idempotent: reversing a reversed redemption answers it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paybao.domain.errors import (
    Conflict,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    NotFound,
    Retryable,
)
from paybao.domain.identity import mask_real_name
from paybao.domain.ledger import Transfer
from paybao.domain.topup_channels import (
    CHANNEL_POLICY_DEFAULT,
    LEDGER_CODE_CASH_REVERSAL,
    LEDGER_CODE_CASH_TOPUP,
    CashCodeStatus,
    ChannelPolicy,
    check_amount,
    check_cash_code,
    new_cash_code,
    same_china_day,
)
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.idempotency import IdempotencyService
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.topup_channel_records import (
    CASH_CODE_IDEMPOTENCY_PREFIX,
    CASH_REVERSAL_PREFIX,
    CASH_TOPUP_PREFIX,
    PAGE_SIZE_MAX,
    CashCode,
    Partner,
    Redemption,
    TopupChannelStore,
    cash_code_answer,
    cash_code_view,
    check_room_in,
    redemption_of,
)
from paybao.services.users import UserService

REQUEST_NO_LENGTH_MAX = 64
EXPIRE_BATCH_MAX = 500
CODE_DRAWS_MAX = 5


@dataclass(frozen=True, slots=True)
class CodeAtCounter:
    """What the counter sees when it scans a code, before it takes the cash."""

    amount_fen: int
    status: str
    expires_at_us: int
    payee_name_masked: str


@dataclass
class CashTopupService:
    db: Database
    store: TopupChannelStore
    users: UserService
    ledger: LedgerService
    clock: Clock
    policy: ChannelPolicy = field(default_factory=lambda: CHANNEL_POLICY_DEFAULT)
    # Marks a claimed request with the code it made, in the same transaction (see
    # BankPayService.idempotency).
    idempotency: IdempotencyService | None = None

    # The user's codes -------------------------------------------------------------------------

    def create(self, user_id: int, amount_fen: int) -> CashCode:
        policy = self.policy
        check_amount(amount_fen, policy.cash_amount_min_fen, policy.cash_amount_max_fen)

        def work(tx: Tx) -> int:
            check_room_in(
                tx, self.users, self.ledger, policy, user_id, amount_fen, self.clock.now()
            )
            now_us = self.clock.now_us()
            if self.store.open_code_count(tx, user_id, now_us) >= policy.cash_codes_open_max:
                raise LimitExceeded(
                    f"at most {policy.cash_codes_open_max} open cash codes at a time",
                    code="cash_codes_open_max",
                )
            for _ in range(CODE_DRAWS_MAX):  # 10^15 codes: a clash is all but impossible
                code_id = self.store.insert_code(
                    tx,
                    {
                        "code": new_cash_code(),
                        "user_id": user_id,
                        "amount_fen": amount_fen,
                        "status": str(CashCodeStatus.OPEN),
                        "created_at_us": now_us,
                        "expires_at_us": now_us + policy.cash_code_ttl_s * US_PER_S,
                    },
                )
                if code_id is not None:
                    if self.idempotency is not None:
                        reference = f"{CASH_CODE_IDEMPOTENCY_PREFIX}:{code_id}"
                        self.idempotency.mark_done_in(tx, reference)
                    return code_id
            raise Retryable("could not draw a free code", code="cash_code_draw_failed")

        return self.code(user_id, self.db.run(work))

    def cancel(self, user_id: int, code_id: int) -> CashCode:
        def work(tx: Tx) -> None:
            self._own_in(tx, user_id, code_id)
            if not self.store.end_code(
                tx, code_id, str(CashCodeStatus.CANCELLED), self.clock.now_us()
            ):
                raise InvalidState("this code is no longer open", code="cash_code_not_open")

        self.db.run(work)
        return self.code(user_id, code_id)

    def code(self, user_id: int, code_id: int) -> CashCode:
        with self.db.read() as tx:
            row = self._own_in(tx, user_id, code_id)
            return self._view_in(tx, row)

    def codes(
        self,
        user_id: int,
        limit: int = 10,
        *,
        open_only: bool = False,
        before_id: int | None = None,
    ) -> list[CashCode]:
        """Newest first; `open_only`: the codes a counter could still redeem now."""
        if not 1 <= limit <= PAGE_SIZE_MAX:
            raise InvalidInput(f"page size must be 1..{PAGE_SIZE_MAX}", code="page_size_invalid")
        open_at_us = self.clock.now_us() if open_only else None
        with self.db.read() as tx:
            rows = self.store.codes(tx, user_id, limit, open_at_us=open_at_us, before_id=before_id)
            return [self._view_in(tx, row) for row in rows]

    def answer(self, code_id: int) -> dict[str, Any]:
        """The REST answer of a code as it is now (the idempotency renderer's too)."""
        with self.db.read() as tx:
            row = self.store.code(tx, code_id)
            assert row is not None, f"cash code {code_id} is referenced but missing"
            return cash_code_answer(self._view_in(tx, row))

    def expire_due(self) -> int:
        """Sweep: open codes past their time become `expired` (they could not be redeemed
        anyway; this keeps the table's statuses true)."""
        return self.db.run(
            lambda tx: self.store.expire_codes(tx, self.clock.now_us(), EXPIRE_BATCH_MAX)
        )

    # The partner's counter --------------------------------------------------------------------

    def at_counter(self, partner: Partner, digits: str) -> CodeAtCounter:
        code = check_cash_code(digits)
        with self.db.read() as tx:
            row = self.store.code_by_digits(tx, code)
            if row is None:
                raise NotFound("no such cash code", code="cash_code_not_found")
            view = cash_code_view(row, self.clock.now_us())
            name = self.users.record_in(tx, int(row.user_id)).real_name
        return CodeAtCounter(
            view.amount_fen, view.status, view.expires_at_us, mask_real_name(name) if name else ""
        )

    def redeem(self, partner: Partner, digits: str, amount_fen: int, request_no: str) -> Redemption:
        code = check_cash_code(digits)
        request_no = _request_no(request_no)

        def work(tx: Tx) -> Redemption:
            earlier = self._earlier_in(tx, partner, request_no, code, amount_fen)
            if earlier is not None:
                return earlier
            row = self.store.code_by_digits(tx, code)
            if row is not None and (row.partner_id, row.partner_request_no) == (
                partner.id,
                request_no,
            ):  # this very request, committed by a retry since we looked above
                return self._redemption_in(tx, int(row.id))
            now_us = self.clock.now_us()
            self._check_redeemable(row, amount_fen, now_us)
            user_id = int(row.user_id)
            check_room_in(
                tx, self.users, self.ledger, self.policy, user_id, amount_fen, self.clock.now()
            )
            if not self.store.redeem_code(tx, int(row.id), partner.id, request_no, now_us):
                # Another counter redeemed it first (or this very request, retried at once).
                earlier = self._earlier_in(tx, partner, request_no, code, amount_fen)
                if earlier is not None:
                    return earlier
                raise Conflict("this code has been used", code="cash_code_used")
            reference = f"{CASH_TOPUP_PREFIX}:{row.id}"
            wallet_id = self.users.wallet_account_id_in(tx, user_id)
            self.ledger.transfer_in(
                tx,
                [
                    Transfer(
                        reference,
                        partner.prefund_account_id,
                        wallet_id,
                        amount_fen,
                        code=LEDGER_CODE_CASH_TOPUP,
                        reference=reference,
                    )
                ],
            )
            return self._redemption_in(tx, int(row.id))

        try:
            return self.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code == "exceeds_credits":
                raise InsufficientFunds(
                    "the partner's prefund is too small", code="cash_prefund_insufficient"
                ) from None
            raise

    def reverse(self, partner: Partner, request_no: str) -> Redemption:
        request_no = _request_no(request_no)

        def work(tx: Tx) -> Redemption:
            found = self.store.code_by_request(tx, partner.id, request_no)
            if found is None:
                raise NotFound("no such redemption", code="cash_redemption_not_found")
            row = self.store.code(tx, int(found.id), for_update=True)
            if row.status == CashCodeStatus.REVERSED:
                return self._redemption_in(tx, int(row.id))
            now = self.clock.now()
            if not same_china_day(datetime_from_us(int(row.redeemed_at_us)), now):
                raise InvalidState(
                    "a counter may void a cash top-up on its own day only",
                    code="cash_reversal_too_late",
                )
            if not self.store.reverse_code(tx, int(row.id), self.clock.now_us()):
                raise Conflict("this redemption changed meanwhile", code="cash_code_used")
            reference = f"{CASH_REVERSAL_PREFIX}:{row.id}"
            wallet_id = self.users.wallet_account_id_in(tx, int(row.user_id))
            self.ledger.transfer_in(
                tx,
                [
                    Transfer(
                        reference,
                        wallet_id,
                        partner.prefund_account_id,
                        int(row.amount_fen),
                        code=LEDGER_CODE_CASH_REVERSAL,
                        reference=f"{CASH_TOPUP_PREFIX}:{row.id}",
                    )
                ],
            )
            return self._redemption_in(tx, int(row.id))

        try:
            return self.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code == "exceeds_credits":
                raise Conflict(
                    "the user has already spent this top-up", code="cash_topup_spent"
                ) from None
            raise

    # Inside -----------------------------------------------------------------------------------

    def _earlier_in(
        self, tx: Tx, partner: Partner, request_no: str, code: str, amount_fen: int
    ) -> Redemption | None:
        row = self.store.code_by_request(tx, partner.id, request_no)
        if row is None:
            return None
        if row.code != code or int(row.amount_fen) != amount_fen:
            raise IdempotencyMismatch(
                "this request number was used for another code or amount",
                code="partner_request_no_reused",
            )
        return self._redemption_in(tx, int(row.id))

    @staticmethod
    def _check_redeemable(row: Any, amount_fen: int, now_us: int) -> None:
        if row is None:
            raise NotFound("no such cash code", code="cash_code_not_found")
        if row.status in (CashCodeStatus.REDEEMED, CashCodeStatus.REVERSED):
            raise Conflict("this code has been used", code="cash_code_used")
        if row.status != CashCodeStatus.OPEN or int(row.expires_at_us) <= now_us:
            raise InvalidState("this code has expired or was cancelled", code="cash_code_expired")
        if amount_fen != int(row.amount_fen):
            raise InvalidInput(
                "the code is for another amount",
                code="cash_amount_mismatch",
                amount_fen=int(row.amount_fen),
            )

    def _redemption_in(self, tx: Tx, code_id: int) -> Redemption:
        row = self.store.code(tx, code_id)
        name = self.users.record_in(tx, int(row.user_id)).real_name
        return redemption_of(row, name)

    def _own_in(self, tx: Tx, user_id: int, code_id: int) -> Any:
        row = self.store.code(tx, code_id)
        if row is None or int(row.user_id) != user_id:
            raise NotFound("no such cash code", code="cash_code_not_found")
        return row

    def _view_in(self, tx: Tx, row: Any) -> CashCode:
        partner_name = None
        if row.partner_id is not None:
            partner = self.store.partner(tx, int(row.partner_id))
            partner_name = None if partner is None else partner.name
        return cash_code_view(row, self.clock.now_us(), partner_name)


def _request_no(text: str) -> str:
    value = text.strip()
    if (
        not value
        or len(value) > REQUEST_NO_LENGTH_MAX
        or not value.isascii()
        or not value.isprintable()
    ):
        raise InvalidInput(
            f"request_no is 1-{REQUEST_NO_LENGTH_MAX} printable ASCII characters",
            code="partner_request_no_invalid",
        )
    return value
