"""Helpers for the credit score tests: a real-name-verified person with a wallet (their ID number
known, for merchants' admission queries), scoring switched on, and admission calls."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from tests.integration.gateway_support import make_buyer

from paybao.adapters.db.user_store import SqlUserStore
from paybao.bootstrap import Platform
from paybao.domain.identity import generate_id_number
from paybao.domain.score import Purpose
from paybao.services.score import ScoreService

BRIEF_GET = "zhima.credit.score.brief.get"
PRODUCT_CODE = "w1010100000000002733"


@dataclass(frozen=True)
class Person:
    user_id: int
    phone: str
    name: str
    id_number: str


def person(
    platform: Platform,
    phone: str,
    name: str = "王小明",
    balance_fen: int = 0,
    *,
    id_number: str | None = None,
) -> Person:
    """An active class III user with a verified name and ID number (gateway_support's login
    and payment passwords), topped up with `balance_fen`."""
    user_id = make_buyer(platform, phone, balance_fen=balance_fen)
    rng = random.Random(hashlib.sha256(phone.encode()).digest())
    number = id_number or generate_id_number(rng, birth_date=date(1990, 3, 7))
    store = SqlUserStore()
    platform.db.run(
        lambda tx: store.update(tx, user_id, real_name=name, id_number=number, channels="id_check")
    )
    return Person(user_id, phone, name, number)


def score_of(platform: Platform) -> ScoreService:
    service: ScoreService = platform.services["score"]
    return service


def switched_on(platform: Platform, user: Person, *, admission: bool = True) -> Person:
    score_of(platform).grant(user.user_id, Purpose.SCORE)
    if admission:
        score_of(platform).grant(user.user_id, Purpose.ADMISSION)
    return user


def brief(
    transaction_id: str,
    user: Person | None = None,
    threshold: object = 600,
    **values: Any,
) -> dict[str, Any]:
    """A zhima.credit.score.brief.get biz_content asking about `user` by ID card."""
    biz: dict[str, Any] = {
        "transaction_id": transaction_id,
        "product_code": PRODUCT_CODE,
        "cert_type": "IDENTITY_CARD",
        "cert_no": user.id_number if user else "",
        "name": user.name if user else "",
        "admittance_score": threshold,
    }
    biz.update(values)
    return biz
