"""OperatorService (disable / enable) and OperatorTokenService on in-memory fakes: what a
token stores, when it stops working (revoked, expired on the clock, operator disabled), the
once-a-minute "last used" write, the name and count rules, the last enabled admin, and the
audit rows each change writes. No database: the store and the unit of work are fakes."""

from __future__ import annotations

import dataclasses
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from tests.unit.test_wallet_service_users import MID_YEAR_US, FakeUserDatabase, PlainHasher

from paybao.domain.errors import DomainError
from paybao.domain.operator_access import (
    TOKEN_LAST_USED_RESOLUTION_S,
    TokenState,
    parse_expiry_days,
    token_state,
)
from paybao.services.clock import US_PER_S, ManualClock
from paybao.services.operator_tokens import OperatorTokenService, TokenRow
from paybao.services.operators import OperatorService

DAY_S = 86_400
DISABLED = "ops.bob role=admin tokens_revoked=0"


class FakeOperatorStore:
    """Operators, their tokens and the audit log in the fake database's state."""

    def __init__(self) -> None:
        self.touches = 0

    @staticmethod
    def _state(tx: Any) -> dict[str, Any]:
        state: dict[str, Any] = tx.state
        state.setdefault("operators", {})
        state.setdefault("tokens", {})
        state.setdefault("audit", [])
        return state

    def _next_id(self, tx: Any, table: str) -> int:
        return len(self._state(tx)[table]) + 1

    # Operators
    def operator_by_name(self, tx: Any, name: str) -> Any:
        found = [o for o in self._state(tx)["operators"].values() if o.name == name]
        return found[0] if found else None

    def operator_by_id(self, tx: Any, operator_id: int, *, lock: bool = False) -> Any:
        return self._state(tx)["operators"].get(operator_id)

    def operator_count(self, tx: Any) -> int:
        return len(self._state(tx)["operators"])

    def admin_ids_locked(self, tx: Any) -> list[int]:
        operators = self._state(tx)["operators"].values()
        return [o.id for o in operators if o.role == "admin" and o.disabled_at_us is None]

    def insert_operator(
        self, tx: Any, name: str, password_hash: str, secret: str, now_us: int, role: str
    ) -> int:
        operator_id = self._next_id(tx, "operators")
        self._state(tx)["operators"][operator_id] = SimpleNamespace(
            id=operator_id,
            name=name,
            password_hash=password_hash,
            totp_secret=secret,
            totp_last_step=0,
            failures=0,
            locked_until_us=None,
            created_at_us=now_us,
            role=role,
            disabled_at_us=None,
            sessions_valid_from_s=None,
        )
        return operator_id

    def update_operator(self, tx: Any, operator_id: int, **values: Any) -> None:
        vars(self._state(tx)["operators"][operator_id]).update(values)

    def revoke_tokens_of(self, tx: Any, operator_id: int, now_us: int) -> int:
        unrevoked = [
            t
            for t in self._state(tx)["tokens"].values()
            if t.operator_id == operator_id and t.revoked_at_us is None
        ]
        for token in unrevoked:
            token.revoked_at_us = now_us
        return len(unrevoked)

    def audit(self, tx: Any, operator_id: int | None, action: str, *args: Any, **kw: Any) -> None:
        subject, detail, _now_us = args
        row = (operator_id, action, subject, detail, kw.get("actor"), kw.get("outcome", "ok"))
        self._state(tx)["audit"].append(row)

    # Tokens
    def insert_operator_token(self, tx: Any, row: TokenRow) -> int:
        token_id = self._next_id(tx, "tokens")
        self._state(tx)["tokens"][token_id] = SimpleNamespace(
            id=token_id, last_used_at_us=None, revoked_at_us=None, **dataclasses.asdict(row)
        )
        return token_id

    def unrevoked_token_named(self, tx: Any, operator_id: int, name: str) -> Any:
        found = [
            t
            for t in self._state(tx)["tokens"].values()
            if (t.operator_id, t.name, t.revoked_at_us) == (operator_id, name, None)
        ]
        return found[0] if found else None

    def live_token_count(self, tx: Any, operator_id: int, now_us: int) -> int:
        return sum(
            1
            for t in self._state(tx)["tokens"].values()
            if t.operator_id == operator_id
            and t.revoked_at_us is None
            and (t.expires_at_us is None or t.expires_at_us > now_us)
        )

    def operator_tokens(self, tx: Any, operator_id: int, limit: int) -> list[Any]:
        tokens = [t for t in self._state(tx)["tokens"].values() if t.operator_id == operator_id]
        return sorted(tokens, key=lambda t: -t.id)[:limit]

    def operator_token(self, tx: Any, token_id: int) -> Any:
        return self._state(tx)["tokens"].get(token_id)

    def revoke_operator_token(self, tx: Any, token_id: int, now_us: int) -> bool:
        token = self._state(tx)["tokens"][token_id]
        if token.revoked_at_us is not None:
            return False
        token.revoked_at_us = now_us
        return True

    def token_holder(self, tx: Any, token_sha256: str) -> Any:
        state = self._state(tx)
        for token in state["tokens"].values():
            if token.token_sha256 == token_sha256:
                operator = state["operators"][token.operator_id]
                return SimpleNamespace(
                    **vars(token),
                    operator_name=operator.name,
                    role=operator.role,
                    disabled_at_us=operator.disabled_at_us,
                )
        return None

    def touch_operator_token(self, tx: Any, token_id: int, now_us: int) -> None:
        self.touches += 1
        self._state(tx)["tokens"][token_id].last_used_at_us = now_us


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MID_YEAR_US)


@pytest.fixture
def database() -> FakeUserDatabase:
    return FakeUserDatabase()


@pytest.fixture
def store() -> FakeOperatorStore:
    return FakeOperatorStore()


@pytest.fixture
def operators(
    database: FakeUserDatabase, store: FakeOperatorStore, clock: ManualClock
) -> OperatorService:
    return OperatorService(database, store, None, PlainHasher(), clock)  # type: ignore[arg-type]


@pytest.fixture
def tokens(
    database: FakeUserDatabase, store: FakeOperatorStore, clock: ManualClock
) -> OperatorTokenService:
    return OperatorTokenService(database, store, clock)  # type: ignore[arg-type]


def audit(database: FakeUserDatabase) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.state.get("audit", [])
    return rows


def test_a_token_is_stored_as_its_sha256_with_its_expiry(
    operators: OperatorService, tokens: OperatorTokenService, database: FakeUserDatabase
) -> None:
    root = operators.create("ops.root", "a long password")
    minted = tokens.create(root.id, root.id, "  grafana   board ", expires_days=30)
    assert minted.name == "grafana board"
    assert minted.token.startswith("pbo_") and len(minted.token) == 47
    [stored] = database.state["tokens"].values()
    assert stored.token_sha256 == hashlib.sha256(minted.token.encode()).hexdigest()
    assert minted.token not in repr(database.state)
    assert stored.expires_at_us == MID_YEAR_US + 30 * DAY_S * US_PER_S
    assert audit(database)[-1][:3] == (root.id, "own_token.create", f"operator:{root.id}")
    assert tokens.create(None, root.id, "ci").expires_at_us is None  # never expires
    assert audit(database)[-1][1] == "operator.token_create"


def test_a_token_authenticates_with_its_operators_current_role(
    operators: OperatorService, tokens: OperatorTokenService
) -> None:
    root = operators.create("ops.root", "a long password")
    bob = operators.create("ops.bob", "a long password", "viewer")
    minted = tokens.create(root.id, bob.id, "ci")
    caller = tokens.authenticate(minted.token)
    who = (caller.operator.id, caller.operator.role, caller.actor)
    assert who == (bob.id, "viewer", "token:ci")
    operators.set_role(root.id, bob.id, "finance")
    assert tokens.authenticate(minted.token).operator.role == "finance"


def test_last_used_is_written_at_most_once_a_minute(
    operators: OperatorService,
    tokens: OperatorTokenService,
    store: FakeOperatorStore,
    clock: ManualClock,
) -> None:
    root = operators.create("ops.root", "a long password")
    minted = tokens.create(root.id, root.id, "poller")
    for _ in range(5):
        tokens.authenticate(minted.token)
        clock.advance(1)
    assert store.touches == 1
    clock.advance(TOKEN_LAST_USED_RESOLUTION_S)
    tokens.authenticate(minted.token)
    assert store.touches == 2
    [listed] = tokens.tokens_of(root.id)
    assert listed.last_used_at_us == clock.now_us()


def test_a_token_stops_at_its_expiry_when_revoked_and_when_its_operator_is_disabled(
    operators: OperatorService, tokens: OperatorTokenService, clock: ManualClock
) -> None:
    root = operators.create("ops.root", "a long password")
    bob = operators.create("ops.bob", "a long password", "support")
    expiring = tokens.create(root.id, root.id, "short", expires_days=1)
    clock.advance(DAY_S - 1)
    tokens.authenticate(expiring.token)
    clock.advance(1)
    _refused(tokens, expiring.token)
    assert tokens.tokens_of(root.id)[0].state is TokenState.EXPIRED

    revoked = tokens.create(root.id, root.id, "revoked")
    assert tokens.revoke(root.id, root.id, revoked.id) is True
    assert tokens.revoke(root.id, root.id, revoked.id) is False  # once
    _refused(tokens, revoked.token)

    bobs = tokens.create(None, bob.id, "bob's")
    operators.disable(root.id, bob.id)
    _refused(tokens, bobs.token)
    assert tokens.tokens_of(bob.id)[0].state is TokenState.REVOKED
    operators.enable(root.id, bob.id)
    _refused(tokens, bobs.token)  # enabling does not bring tokens back
    _refused(tokens, "pbo_" + "x" * 43)
    _refused(tokens, "not even the shape")


def _refused(tokens: OperatorTokenService, token: str) -> None:
    with pytest.raises(DomainError) as caught:
        tokens.authenticate(token)
    assert caught.value.code == "admin_token_invalid"


@pytest.mark.parametrize(
    ("name", "days", "code"),
    [("", None, "invalid_token_name"), ("x" * 65, None, "invalid_token_name")],
)
def test_token_names_are_checked(
    operators: OperatorService, tokens: OperatorTokenService, name: str, days: Any, code: str
) -> None:
    root = operators.create("ops.root", "a long password")
    with pytest.raises(DomainError) as caught:
        tokens.create(root.id, root.id, name, days)
    assert caught.value.code == code


def test_a_name_is_taken_until_revoked_and_live_tokens_are_capped(
    operators: OperatorService, tokens: OperatorTokenService, clock: ManualClock
) -> None:
    root = operators.create("ops.root", "a long password")
    first = tokens.create(root.id, root.id, "ci", expires_days=1)
    clock.advance(2 * DAY_S)
    with pytest.raises(DomainError) as caught:  # expired, but not revoked: the name is taken
        tokens.create(root.id, root.id, "ci")
    assert caught.value.code == "operator_token_exists"
    tokens.revoke(root.id, root.id, first.id)
    tokens.create(root.id, root.id, "ci")
    for number in range(19):
        tokens.create(root.id, root.id, f"n{number}")
    with pytest.raises(DomainError) as caught:
        tokens.create(root.id, root.id, "twenty-first")
    assert caught.value.code == "operator_token_limit"


def test_revoking_another_operators_token_is_not_found(
    operators: OperatorService, tokens: OperatorTokenService
) -> None:
    root = operators.create("ops.root", "a long password")
    bob = operators.create("ops.bob", "a long password")
    roots = tokens.create(root.id, root.id, "mine")
    with pytest.raises(DomainError) as caught:
        tokens.revoke(bob.id, bob.id, roots.id)
    assert caught.value.code == "operator_token_not_found"
    tokens.authenticate(roots.token)


def test_disabling_rules_and_their_audit_rows(
    operators: OperatorService, database: FakeUserDatabase
) -> None:
    root = operators.create("ops.root", "a long password")
    bob = operators.create("ops.bob", "a long password", "admin")
    with pytest.raises(DomainError) as caught:
        operators.disable(root.id, root.id)
    assert caught.value.code == "operator_self_disable"
    assert operators.disable(root.id, bob.id, "on leave") is True
    with pytest.raises(DomainError) as caught:
        operators.disable(None, root.id)
    assert caught.value.code == "operator_last_admin"
    with pytest.raises(DomainError) as caught:
        operators.get(bob.id)
    assert caught.value.code == "operator_disabled"
    assert [row[1:] for row in audit(database)[-3:]] == [
        ("operator.disable", f"operator:{root.id}", "", None, "operator_self_disable"),
        (
            "operator.disable",
            f"operator:{bob.id}",
            "ops.bob role=admin tokens_revoked=0: on leave",
            None,
            "ok",
        ),
        ("operator.disable", f"operator:{root.id}", "", None, "operator_last_admin"),
    ]
    database.state["operators"][bob.id].failures = 4
    assert operators.enable(root.id, bob.id) is True
    assert operators.enable(root.id, bob.id) is False
    assert database.state["operators"][bob.id].failures == 0
    assert operators.get(bob.id) is not None


def test_disabling_ends_every_earlier_session_even_once_enabled_again(
    operators: OperatorService,
) -> None:
    root = operators.create("ops.root", "a long password")
    bob = operators.create("ops.bob", "a long password", "support")
    assert operators.get(bob.id, session_issued_s=1_000) is not None
    operators.wall_clock_s = lambda: 1_500.7
    operators.disable(root.id, bob.id)
    operators.enable(root.id, bob.id)
    with pytest.raises(DomainError) as caught:
        operators.authorize(bob.id, "console.view", "GET /admin", session_issued_s=1_499)
    assert caught.value.code == "operator_disabled"
    assert operators.authorize(bob.id, "console.view", "GET /admin", session_issued_s=1_500)
    assert operators.get(bob.id) is not None  # no session (the API): not concerned


@pytest.mark.parametrize(
    ("given", "days"), [(None, None), ("", None), (" ", None), ("1", 1), (366, 366), ("30", 30)]
)
def test_expiry_days_blank_means_never(given: Any, days: int | None) -> None:
    assert parse_expiry_days(given) == days


@pytest.mark.parametrize("given", ["0", "367", "-1", "1.5", "soon", 0])
def test_expiry_days_outside_1_to_366_are_refused(given: Any) -> None:
    with pytest.raises(DomainError) as caught:
        parse_expiry_days(given)
    assert caught.value.code == "invalid_token_expiry"


def test_token_state_at_the_boundaries() -> None:
    assert token_state(None, None, 5) is TokenState.LIVE
    assert token_state(None, 6, 5) is TokenState.LIVE
    assert token_state(None, 5, 5) is TokenState.EXPIRED  # expires_at is the first dead moment
    assert token_state(4, 6, 5) is TokenState.REVOKED
