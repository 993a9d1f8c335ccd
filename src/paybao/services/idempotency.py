"""Idempotency keys for any mutating call (Brandur's recipe, simplified).

`run(scope, key, fingerprint, work)`: the first call claims (scope, key) in its own transaction
(the unique constraint decides races), runs `work`, and stores its (status, body). A replay with
the same fingerprint gets the stored answer without running anything; a different fingerprint
is `idempotency_key_reused` (409). A call still running elsewhere is `idempotency_key_in_use`
(409, retry later). A transient failure (5xx) releases the claim so the client may retry.

A crash between the business commit and storing the answer must not let a later retry run the
work again. So the business transaction itself marks the claim with a reference to what it
created (`mark_done_in(tx, "transfer:42")`, same transaction as the transfer row): a retry that
finds a claim with a reference renders the answer from it (`renderers`) instead of re-running.

A service that knows its answer inside its last transaction may store it there
(`mark_done_in(tx, reference, answer=(200, body))`): a crash after that commit leaves the answer
itself, and if `work` then returns exactly that answer, `run` does not write it a second time
(one statement and one write transaction less per request).
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from paybao.domain.errors import Conflict, IdempotencyMismatch, InvalidInput
from paybao.services.ports import Clock, Database, Tx

KEY_LENGTH_MAX = 128
IN_PROGRESS = 0
# The business change committed (its reference is in the body); the answer was not stored yet.
COMMITTED = 1
_ACTIVE_CLAIM: contextvars.ContextVar[_Claim | None] = contextvars.ContextVar(
    "idempotency_claim", default=None
)
# A claim older than this with no answer belongs to a crashed request: it may be taken over.
# Requests are bounded well below it (statement and lock timeouts of 15 s, a few retries).
STALE_CLAIM_S = 45


class IdempotencyStore(Protocol):
    def find(self, tx: Tx, scope: str, key: str) -> tuple[str, int, str, int] | None:
        """(request_sha256, status_code, response_body, created_at_us)."""
        ...

    def claim(self, tx: Tx, scope: str, key: str, request_sha256: str, now_us: int) -> None: ...

    def claim_if_new(self, tx: Tx, scope: str, key: str, request_sha256: str, now_us: int) -> bool:
        """Claim (scope, key) unless a row holds it already (committed, or committed by a
        concurrent claim this one waited for); True if this call claimed it. One statement
        for the common case of a fresh key, instead of a look-up and an insert."""
        ...

    def answer(self, tx: Tx, scope: str, key: str, status_code: int, body: str) -> None: ...

    def release(self, tx: Tx, scope: str, key: str) -> None:
        """Drop a claim that is still in progress (never one whose work took effect)."""
        ...

    def mark(self, tx: Tx, scope: str, key: str, reference: str) -> None:
        """Set status COMMITTED and the reference, only on a claim still in progress."""
        ...

    def mark_answered(self, tx: Tx, scope: str, key: str, status_code: int, body: str) -> bool:
        """Store the answer, only on a claim in progress or COMMITTED (not yet answered);
        True if it did."""
        ...


@dataclass(slots=True)
class _Claim:
    scope: str
    key: str
    # The answer a business transaction of this request stored, if the last one did.
    answered: tuple[int, str] | None = None


def without_secrets(fields: dict[str, object]) -> dict[str, object]:
    """A request's fields for fingerprinting, with every password left out: the fingerprint is
    stored, and an unsalted digest of a 6-digit payment password would give the password away
    to anyone who reads the table (10^6 guesses). The same key with a different password is
    then a replay, and gets the first answer, which is the idempotency contract anyway."""
    return {key: value for key, value in fields.items() if "password" not in key.lower()}


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


Renderer = Callable[[str], tuple[int, str]]


@dataclass
class IdempotencyService:
    db: Database
    store: IdempotencyStore
    clock: Clock
    # reference prefix ("transfer") -> builds the answer for "transfer:<id>" after a crash.
    renderers: dict[str, Renderer] = field(default_factory=dict)

    def claiming(self) -> bool:
        """Whether the caller runs under a claimed request (`run`), so that marks count."""
        return _ACTIVE_CLAIM.get() is not None

    def mark_done_in(
        self, tx: Tx, reference: str, *, answer: tuple[int, str] | None = None
    ) -> None:
        """Called by a service inside its business transaction: the claimed request (if this
        call runs under one) has now taken effect, as `reference`.

        With `answer` (the (status, body) the request will return, byte for byte), the answer
        itself is stored instead of the reference, also over a reference an earlier transaction
        of the same request stored. Pass it only from the request's last transaction: `run`
        skips its own write when `work` returns exactly this answer. A retried transaction
        marks again, and only a mark whose update matched the claim counts (after an
        ambiguous commit the claim may already hold the earlier attempt's answer)."""
        claim = _ACTIVE_CLAIM.get()
        if claim is None:
            return
        claim.answered = None
        if answer is None:
            self.store.mark(tx, claim.scope, claim.key, reference)
        elif self.store.mark_answered(tx, claim.scope, claim.key, *answer):
            claim.answered = answer

    def run(
        self, scope: str, key: str, request_sha256: str, work: Callable[[], tuple[int, str]]
    ) -> tuple[int, str]:
        if not 1 <= len(key) <= KEY_LENGTH_MAX or not key.isprintable():
            raise InvalidInput(
                "Idempotency-Key must be 1-128 printable characters", code="idempotency_key_invalid"
            )
        stored = self.db.run(lambda tx: self._claim_in(tx, scope, key, request_sha256))
        if stored is not None and stored[0] == COMMITTED:
            stored = self._render(stored[1])
            self.db.run(lambda tx: self.store.answer(tx, scope, key, *stored))
        if stored is not None:
            return stored
        claim = _Claim(scope, key)
        token = _ACTIVE_CLAIM.set(claim)
        try:
            status_code, body = work()
        except BaseException:
            self.db.run(lambda tx: self.store.release(tx, scope, key))
            raise
        finally:
            _ACTIVE_CLAIM.reset(token)
        if status_code >= 500:
            # Released only if the work did not take effect (a marked claim stays, and the
            # retry gets the committed result).
            self.db.run(lambda tx: self.store.release(tx, scope, key))
        elif claim.answered != (status_code, body):  # else the business transaction stored it
            self.db.run(lambda tx: self.store.answer(tx, scope, key, status_code, body))
        return status_code, body

    def _render(self, reference: str) -> tuple[int, str]:
        prefix = reference.split(":", 1)[0]
        assert prefix in self.renderers, f"no renderer for {reference}"
        return self.renderers[prefix](reference)

    def _claim_in(
        self, tx: Tx, scope: str, key: str, request_sha256: str
    ) -> tuple[int, str] | None:
        now_us = self.clock.now_us()
        if self.store.claim_if_new(tx, scope, key, request_sha256, now_us):
            return None
        found = self.store.find(tx, scope, key)
        if found is None:  # released between the two statements: claim it the plain way
            self.store.claim(tx, scope, key, request_sha256, now_us)
            return None
        stored_sha256, status_code, body, created_at_us = found
        if stored_sha256 != request_sha256:
            raise IdempotencyMismatch(
                "this Idempotency-Key was used with a different request",
                code="idempotency_key_reused",
            )
        if status_code == COMMITTED:
            return status_code, body
        if status_code == IN_PROGRESS:
            if now_us - created_at_us < STALE_CLAIM_S * 1_000_000:
                raise Conflict(
                    "a request with this key is still running", code="idempotency_key_in_use"
                )
            self.store.release(tx, scope, key)
            self.store.claim(tx, scope, key, request_sha256, now_us)
            return None
        return status_code, body
