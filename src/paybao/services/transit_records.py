"""Transit ride codes: the records the service keeps and the store port that keeps them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain.transit import AccountStatus, FareRule, RideStatus
from paybao.services.ports import Tx


@dataclass(frozen=True, slots=True)
class Operator:
    """A transit operator: a merchant app with a fare rule."""

    app_id: str
    merchant_id: int
    name: str
    fare: FareRule


@dataclass(frozen=True, slots=True)
class IssuerKey:
    key_id: int  # the Beijing date it was made for, yyyymmdd
    public_key: bytes
    sealed_private: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class TransitAccount:
    id: int
    user_id: int
    app_id: str
    merchant_id: int
    agreement_no: str
    status: AccountStatus
    public_key: bytes
    credit_limit_fen: int
    owed_fen: int
    owed_count: int
    opened_at_us: int
    live_key: str | None
    close_after_us: int | None = None
    closed_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class RideRecord:
    id: int
    account_id: int
    app_id: str
    out_trade_no: str
    user_id: int
    fare_fen: int
    status: RideStatus
    fingerprint: str
    subject: str
    first_station: str
    first_at_us: int
    last_station: str | None
    last_at_us: int | None
    created_at_us: int
    trade_no: str | None = None
    owed_reason: str | None = None
    settled_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class OfflineTrade:
    """One ride an operator uploads (AlipayOfflineTrade): its own order number, the reader
    records, and optionally the user and amount it computed itself (checked against ours)."""

    out_trade_no: str
    records: tuple[str, ...]
    subject: str | None = None
    amount_fen: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class SettleResult:
    out_trade_no: str
    status: RideStatus | None  # None: the ride was refused before it was recorded
    trade_no: str | None = None
    fare_fen: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry: bool = False


class TransitStore(Protocol):
    # Operators and issuer keys
    def operator(self, tx: Tx, app_id: str) -> Operator | None: ...

    def operators(self, tx: Tx, limit: int) -> list[Operator]: ...

    def save_operator(self, tx: Tx, operator: Operator) -> None:
        """Insert, or replace the name and fares of an existing operator."""
        ...

    def issuer_key(self, tx: Tx, key_id: int) -> IssuerKey | None: ...

    def insert_issuer_key(self, tx: Tx, key: IssuerKey) -> None:
        """A plain insert: a racing twin fails the transaction (retried, then read)."""
        ...

    def issuer_keys(
        self, tx: Tx, *, newest: int | None = None, ids: list[int] | None = None
    ) -> list[IssuerKey]: ...

    # Accounts
    def insert_account(self, tx: Tx, account: TransitAccount) -> int: ...

    def live_account(
        self, tx: Tx, user_id: int, app_id: str, *, for_update: bool = False
    ) -> TransitAccount | None: ...

    def account(
        self, tx: Tx, account_id: int, *, for_update: bool = False
    ) -> TransitAccount | None: ...

    def accounts_of(self, tx: Tx, user_id: int, limit: int) -> list[TransitAccount]: ...

    def update_account(
        self, tx: Tx, account_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: apply `changes` only if the row still holds `expect`."""
        ...

    def blacklist(self, tx: Tx, app_id: str, offset: int, limit: int) -> list[int]:
        """Users of this operator with a SUSPENDED account, by user id."""
        ...

    # Rides
    def insert_ride(self, tx: Tx, ride: RideRecord, code_digests: list[str]) -> int:
        """The ride and its codes' uses; a taken out_trade_no or code fails the transaction."""
        ...

    def ride(
        self, tx: Tx, app_id: str, out_trade_no: str, *, for_update: bool = False
    ) -> RideRecord | None: ...

    def ride_of_code(self, tx: Tx, digest: str) -> int | None: ...

    def update_ride(
        self, tx: Tx, ride_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool: ...

    def rides_of(
        self, tx: Tx, account_id: int, limit: int, status: RideStatus | None = None
    ) -> list[RideRecord]: ...

    def pending_rides(self, tx: Tx, created_before_us: int, limit: int) -> list[RideRecord]:
        """PENDING rides recorded before `created_before_us`, oldest first."""
        ...


__all__ = [
    "IssuerKey",
    "OfflineTrade",
    "Operator",
    "RideRecord",
    "SettleResult",
    "TransitAccount",
    "TransitStore",
]
