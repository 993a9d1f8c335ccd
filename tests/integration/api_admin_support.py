"""Helpers for the admin REST API tests: operators of a role with a personal token, the audit
rows the services wrote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from tests.integration.admin_support import OPERATOR_PASSWORD

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform

ROOT = "ops.root"


@dataclass(frozen=True)
class TokenOperator:
    operator_id: int
    headers: dict[str, str]


def token_operator(platform: Platform, role: str, name: str = "ops.script") -> TokenOperator:
    """An operator with `role` (after the root admin, the first operator) and a personal API
    token named "script", as its bearer headers."""
    operators = platform.services["operators"]
    if not operators.operators():
        operators.create(ROOT, OPERATOR_PASSWORD)
    created = operators.create(name, OPERATOR_PASSWORD, role)
    minted = platform.services["operator_tokens"].create(None, created.id, "script")
    return TokenOperator(created.id, {"Authorization": f"Bearer {minted.token}"})


def with_key(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}


def audit_rows(platform: Platform, action: str | None = None) -> list[Any]:
    query = select(audit_log).order_by(audit_log.c.id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with platform.engine.connect() as connection:
        return list(connection.execute(query).all())


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])
