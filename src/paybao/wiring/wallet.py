"""Wallet feature wiring: users, registration, the sandbox bank, money movement, operators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.user_store import SqlUserStore
from paybao.adapters.passwords import Argon2Hasher
from paybao.domain.account_class import ClassPolicy
from paybao.domain.credentials import LockoutPolicy
from paybao.services.users import UserPolicy, UserService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    settings = platform.settings
    hasher = Argon2Hasher(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
    )
    policy = UserPolicy(
        lockout=LockoutPolicy(
            failures_max=settings.payment_password_failures_max,
            lock_s=settings.payment_password_lock_s,
        ),
        classes=ClassPolicy(
            class_i_lifetime_fen=settings.class_i_lifetime_fen,
            class_ii_yearly_fen=settings.class_ii_yearly_fen,
            class_iii_yearly_fen=settings.class_iii_yearly_fen,
        ),
    )
    users = UserService(platform.db, SqlUserStore(), platform.clock, hasher, policy)
    platform.services["users"] = users
    platform.services["password_hasher"] = hasher
