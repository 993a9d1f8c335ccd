"""Cash top-up partners (现金充值合作网点): bank branches, Lakala terminals, post offices that take
cash at a counter and credit the user's wallet through paybao's partner API.

Operators register a partner (name, kind): paybao opens its prefund account in the ledger
(domain/topup_channels.py `partner_prefund_account`) and mints its API key, shown once and
stored only as its SHA-256 (as operators' personal tokens are: services/operator_tokens.py).
The partner wires money to paybao's bank account beforehand; an operator records each wire as
a prefund deposit (partner clearing -> prefund, ledger code 9903), idempotent by the wire's
reference, audited. Every cash top-up draws on the prefund; the ledger refuses an overdraft.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from paybao.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from paybao.domain.ledger import Transfer
from paybao.domain.money import check_amount_fen, format_yuan
from paybao.domain.topup_channels import (
    LEDGER_CODE_CASH_PREFUND,
    check_partner_name,
    partner_clearing_account,
    partner_kind,
    partner_prefund_account,
)
from paybao.services.audit import AuditTrail
from paybao.services.ledger import LedgerService
from paybao.services.operator_tokens import token_sha256
from paybao.services.ports import Clock, Database, Tx
from paybao.services.topup_channel_records import (
    CASH_DEPOSIT_PREFIX,
    PAGE_SIZE_MAX,
    Partner,
    TopupChannelStore,
    partner_of,
)

KEY_PREFIX = "pbc_"
KEY_BYTES = 32
PARTNERS_LISTED_MAX = 200
DEPOSITS_LISTED_MAX = 50
DEPOSIT_FEN_MAX = 100_000_000_00  # one wire; far above any real prefund
REFERENCE_LENGTH_MAX = 64
AUDIT_REGISTER = "cash_partner.register"
AUDIT_STATUS = "cash_partner.status"
AUDIT_DEPOSIT = "cash_partner.deposit"


@dataclass(frozen=True, slots=True)
class NewPartner:
    partner: Partner
    api_key: str  # shown once, here


@dataclass(frozen=True, slots=True)
class PartnerBalance:
    partner: Partner
    prefund_fen: int


@dataclass(frozen=True, slots=True)
class PartnerBalancePage:
    balances: list[PartnerBalance]  # newest partner first
    next_before_id: int | None  # the next page starts below this partner id; None: the end


@dataclass(frozen=True, slots=True)
class Deposit:
    """A wire the partner sent to paybao's bank account, as finance recorded it."""

    id: int
    amount_fen: int
    reference: str
    operator_id: int | None
    created_at_us: int


@dataclass(frozen=True, slots=True)
class DepositPage:
    deposits: list[Deposit]  # newest first
    next_before_id: int | None  # the next page starts below this deposit id; None: the end


@dataclass
class CashPartnerService:
    db: Database
    store: TopupChannelStore
    ledger: LedgerService
    clock: Clock
    audit: AuditTrail | None = None

    def register(
        self, name: str, kind: str, *, operator_id: int | None = None, actor: str | None = None
    ) -> NewPartner:
        clean_name, clean_kind = check_partner_name(name), partner_kind(kind)
        api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)

        def work(tx: Tx) -> int:
            if self.store.partner_by_name(tx, clean_name) is not None:
                raise Conflict("a partner has this name", code="cash_partner_name_taken")
            # The prefund account is opened first: the partner row names it.
            provisional = self.store.insert_partner(
                tx,
                {
                    "name": clean_name,
                    "kind": str(clean_kind),
                    "status": "active",
                    "key_sha256": token_sha256(api_key),
                    "prefund_account_id": 0,
                    "created_at_us": self.clock.now_us(),
                },
            )
            spec = partner_prefund_account(provisional)
            account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
            self.store.set_partner_account(tx, provisional, account_id)
            detail = f"{clean_name} ({clean_kind})"
            self._audit_in(tx, AUDIT_REGISTER, provisional, detail, operator_id, actor)
            return provisional

        partner_id = self.db.run(work)
        return NewPartner(self.partner(partner_id), api_key)

    def set_active(
        self,
        partner_id: int,
        active: bool,
        *,
        operator_id: int | None = None,
        actor: str | None = None,
    ) -> Partner:
        status = "active" if active else "disabled"

        def work(tx: Tx) -> None:
            partner = self._partner_in(tx, partner_id, for_update=True)
            if partner.status != status:
                self.store.set_partner_status(tx, partner_id, status)
                self._audit_in(tx, AUDIT_STATUS, partner_id, status, operator_id, actor)

        self.db.run(work)
        return self.partner(partner_id)

    def deposit(
        self,
        partner_id: int,
        amount_fen: int,
        reference: str,
        *,
        operator_id: int | None = None,
        actor: str | None = None,
    ) -> PartnerBalance:
        """Record the partner's wire into paybao's bank account as prefund. The same
        reference again records nothing (a double submit); with another amount it is a
        conflict."""
        check_amount_fen(amount_fen)
        if amount_fen > DEPOSIT_FEN_MAX:
            raise InvalidInput("that is not one wire", code="cash_prefund_amount_invalid")
        ref = reference.strip()
        if not ref or len(ref) > REFERENCE_LENGTH_MAX or not ref.isprintable():
            raise InvalidInput(
                f"the wire's reference is 1-{REFERENCE_LENGTH_MAX} characters",
                code="cash_prefund_reference_invalid",
            )

        def work(tx: Tx) -> None:
            partner = self._partner_in(tx, partner_id)
            deposit_id = self.store.insert_deposit(
                tx,
                {
                    "partner_id": partner_id,
                    "amount_fen": amount_fen,
                    "reference": ref,
                    "operator_id": operator_id,
                    "created_at_us": self.clock.now_us(),
                },
            )
            if deposit_id is None:
                earlier = self.store.deposit_by_reference(tx, partner_id, ref)
                if int(earlier.amount_fen) != amount_fen:
                    raise Conflict(
                        "this reference was recorded with another amount",
                        code="cash_prefund_reference_reused",
                    )
                return
            clearing = partner_clearing_account()
            clearing_id = self.ledger.open_accounts_in(tx, [clearing])[clearing.key]
            transfer_id = f"{CASH_DEPOSIT_PREFIX}:{deposit_id}"
            self.ledger.transfer_in(
                tx,
                [
                    Transfer(
                        transfer_id,
                        clearing_id,
                        partner.prefund_account_id,
                        amount_fen,
                        code=LEDGER_CODE_CASH_PREFUND,
                        reference=transfer_id,
                    )
                ],
            )
            detail = f"{format_yuan(amount_fen)} CNY, wire {ref}"
            self._audit_in(tx, AUDIT_DEPOSIT, partner_id, detail, operator_id, actor)

        self.db.run(work)
        return self.balance(partner_id)

    # Authentication of the partner API --------------------------------------------------------

    def authenticate(self, api_key: str) -> Partner:
        """The active partner a key belongs to; one refusal for every failure."""
        if not api_key.startswith(KEY_PREFIX) or len(api_key) > 128:
            raise Unauthenticated("partner API key required", code="cash_partner_key_invalid")
        with self.db.read() as tx:
            row = self.store.partner_by_key(tx, token_sha256(api_key))
        if row is None:
            raise Unauthenticated("partner API key required", code="cash_partner_key_invalid")
        partner = partner_of(row)
        if partner.status != "active":
            raise Forbidden("this partner is disabled", code="cash_partner_disabled")
        return partner

    # Reading ----------------------------------------------------------------------------------

    def partner(self, partner_id: int) -> Partner:
        with self.db.read() as tx:
            return self._partner_in(tx, partner_id)

    def balance(self, partner_id: int) -> PartnerBalance:
        partner = self.partner(partner_id)
        return PartnerBalance(partner, self.ledger.balance(partner.prefund_account_id).balance_fen)

    def balances(self) -> list[PartnerBalance]:
        with self.db.read() as tx:
            partners = [partner_of(row) for row in self.store.partners(tx, PARTNERS_LISTED_MAX)]
            return [
                PartnerBalance(p, self.ledger.account_in(tx, p.prefund_account_id).balance_fen)
                for p in partners
            ]

    def balances_page(
        self, *, before_id: int | None = None, limit: int = PAGE_SIZE_MAX
    ) -> PartnerBalancePage:
        """Partners newest first with their prefund, `limit` at a time (the REST API's pages)."""
        if not 1 <= limit <= PAGE_SIZE_MAX:
            raise InvalidInput(f"page size must be 1..{PAGE_SIZE_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            rows = self.store.partners_page(tx, limit + 1, before_id)
            partners = [partner_of(row) for row in rows[:limit]]
            balances = [
                PartnerBalance(p, self.ledger.account_in(tx, p.prefund_account_id).balance_fen)
                for p in partners
            ]
        more = len(rows) > limit
        return PartnerBalancePage(balances, partners[-1].id if more else None)

    def deposits(
        self, partner_id: int, limit: int = DEPOSITS_LISTED_MAX, before_id: int | None = None
    ) -> list[Deposit]:
        """The partner's deposits, newest first; `before_id` pages on."""
        return self.deposits_page(partner_id, limit, before_id).deposits

    def deposits_page(
        self, partner_id: int, limit: int = DEPOSITS_LISTED_MAX, before_id: int | None = None
    ) -> DepositPage:
        """`deposits` with the cursor of the next page; one row more is read so that a full
        last page says it is the last."""
        if not 1 <= limit <= PAGE_SIZE_MAX:
            raise InvalidInput(f"page size must be 1..{PAGE_SIZE_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            self._partner_in(tx, partner_id)
            rows = self.store.deposits(tx, partner_id, limit + 1, before_id)
        deposits = [
            Deposit(
                int(row.id),
                int(row.amount_fen),
                row.reference,
                None if row.operator_id is None else int(row.operator_id),
                int(row.created_at_us),
            )
            for row in rows[:limit]
        ]
        return DepositPage(deposits, deposits[-1].id if len(rows) > limit else None)

    def _partner_in(self, tx: Tx, partner_id: int, *, for_update: bool = False) -> Partner:
        row = self.store.partner(tx, partner_id, for_update=for_update)
        if row is None:
            raise NotFound("no such partner", code="cash_partner_not_found")
        return partner_of(row)

    def _audit_in(
        self,
        tx: Tx,
        action: str,
        partner_id: int,
        detail: str,
        operator_id: int | None,
        actor: str | None = None,
    ) -> None:
        """`actor`: the API token that acted, if one did (the shared one has no operator)."""
        if self.audit is not None:
            subject = f"cash_partner:{partner_id}"
            self.audit.record_in(
                tx, action, subject, operator_id=operator_id, actor=actor, detail=detail
            )
