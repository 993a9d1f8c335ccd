"""Users as operators see them, in the console's pages (web/pages_admin_users.py) and the admin
REST API (web/api_admin_users.py) alike: one masking, one page size, one reason length.

Personal data never leaves the server in full: phone, real name and ID number are masked with
the domain helpers (domain/identity.py) before they reach a template or a JSON answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybao.domain.identity import mask_id_number, mask_phone, mask_real_name

USERS_PAGE_SIZE = 50  # users on one page of the console, and at most on one API page
REASON_LEN_MAX = 500  # the audited reason of a freeze or unfreeze


@dataclass(frozen=True, slots=True)
class UserLine:
    """One user as the console shows it: masked, with the class limit and what is used."""

    id: int
    phone: str
    real_name: str
    id_number: str
    account_class: str
    used_fen: int | None
    limit_fen: int | None
    status: str
    step: str
    cards: list[str]  # masked card numbers


def mask_user(row: Any, usage: tuple[int, int] | None, cards: list[str]) -> UserLine:
    """`row`: a users row or a UserRecord; `usage`: (used_fen, limit_fen) if the user has a
    class; `cards`: the card numbers, already masked."""
    used_fen, limit_fen = usage if usage is not None else (None, None)
    return UserLine(
        id=int(row.id),
        phone=mask_phone(row.phone),
        real_name=mask_real_name(row.real_name) if row.real_name else "-",
        id_number=mask_id_number(row.id_number) if row.id_number else "-",
        account_class=row.account_class or "-",
        used_fen=used_fen,
        limit_fen=limit_fen,
        status=row.status,
        step=row.step,
        cards=cards,
    )
