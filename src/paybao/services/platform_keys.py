"""Platform key rotation with an overlap: generations, which app is signed with which, retiring.

Alipay gives each app its own Alipay public key and the merchant switches when ready; paybao
does the same with generations of its own key pair. `create` adds the next generation (its
files first, then its row): existing apps stay where they are, new apps get it. An app moves
with `switch` (the merchant in the portal, or an operator), audited in the same transaction.
`retire` stops a generation for good once no app uses it; its files stay in the data folder.

Moving an app and retiring its target lock the generation's row, so they happen one after the
other: no app ever lands on a retired key. A server process sees an app's new generation when
its app cache entry expires (services/merchants.py APP_CACHE_TTL_S, 30 s); the process that
made the switch forgets the entry at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import Conflict, NotFound
from paybao.domain.platform_keys import (
    GENERATION_MAX,
    KeyGeneration,
    KeyState,
    PlatformKeyNotFound,
    check_retire,
    check_sign_with,
    next_generation,
)
from paybao.services.audit import AuditTrail
from paybao.services.merchants import App
from paybao.services.ports import Clock, Database, Tx


class PlatformKeyStore(Protocol):
    def ensure_first_in(self, tx: Tx, now_us: int) -> None: ...

    def generations_in(self, tx: Tx, limit: int) -> list[KeyGeneration]:
        """Oldest first, with app counts; generation 1 even without its row."""
        ...

    def generation_in(self, tx: Tx, generation: int) -> KeyGeneration | None: ...

    def newest_in(self, tx: Tx, *, lock: bool = True) -> int: ...

    def insert_in(self, tx: Tx, generation: int, now_us: int) -> bool: ...

    def retire_in(self, tx: Tx, generation: int) -> None: ...

    def app_generation_in(self, tx: Tx, app_id: str) -> int | None: ...

    def set_app_generation_in(self, tx: Tx, app_id: str, generation: int) -> None: ...


class KeyFiles(Protocol):
    def public_pem(self, generation: int) -> str:
        """The generation's public key (SPKI PEM); its files are made if they are missing."""
        ...


class Apps(Protocol):
    def app(self, app_id: str) -> App: ...

    def forget(self, app_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AppKeys:
    """What a merchant needs to verify an app's answers, and what it may move to."""

    app_id: str
    generation: int
    public_pem: str
    newer_generation: int | None = None
    newer_public_pem: str | None = None


class PlatformKeyService:
    def __init__(
        self,
        db: Database,
        store: PlatformKeyStore,
        files: KeyFiles,
        apps: Apps,
        clock: Clock,
        audit: AuditTrail,
    ) -> None:
        self.db = db
        self.store = store
        self.files = files
        self.apps = apps
        self.clock = clock
        self.audit = audit

    # Reading ------------------------------------------------------------------------------

    def generations(self) -> list[KeyGeneration]:
        """Every generation, oldest first, with the number of apps each one signs for."""
        with self.db.read() as tx:
            return self.store.generations_in(tx, GENERATION_MAX)

    def newest(self) -> int:
        """The generation new apps get."""
        with self.db.read() as tx:
            return self.store.newest_in(tx, lock=False)

    def generation(self, generation: int) -> KeyGeneration:
        for key in self.generations():
            if key.generation == generation:
                return key
        raise PlatformKeyNotFound(f"platform key generation {generation} does not exist")

    def public_pem(self, generation: int) -> str:
        """A generation's public key; an unknown generation is platform_key_not_found."""
        return self.files.public_pem(self.generation(generation).generation)

    def keys_of(self, app: App) -> AppKeys:
        """The app's platform public key and, when there is one, the newest generation's."""
        current = self.files.public_pem(app.platform_key_generation)
        newest = self.newest()
        if newest <= app.platform_key_generation:
            return AppKeys(app.app_id, app.platform_key_generation, current)
        return AppKeys(
            app.app_id, app.platform_key_generation, current, newest, self.files.public_pem(newest)
        )

    # Changing -----------------------------------------------------------------------------

    def create(self, *, actor: str | None = None, operator_id: int | None = None) -> KeyGeneration:
        """The next generation: its key files (slow: generated outside any transaction), then
        its row. Loses to a concurrent `create` with platform_key_exists."""
        generation = next_generation(self.generations()[-1].generation)
        self.files.public_pem(generation)

        def work(tx: Tx) -> KeyGeneration:
            now_us = self.clock.now_us()
            self.store.ensure_first_in(tx, now_us)
            if not self.store.insert_in(tx, generation, now_us):
                raise Conflict(
                    f"platform key generation {generation} was just created by another call",
                    code="platform_key_exists",
                )
            self.audit.record_in(
                tx,
                "platform_key.create",
                f"platform_key:{generation}",
                operator_id=operator_id,
                actor=actor,
            )
            return KeyGeneration(generation, KeyState.ACTIVE, now_us)

        return self.db.run(work)

    def switch(
        self,
        app_id: str,
        generation: int,
        *,
        actor: str | None = None,
        operator_id: int | None = None,
    ) -> App:
        """Sign the app's answers with `generation` from now on (an active one). Switching to
        the generation it already has changes nothing and is not audited."""
        check_sign_with(self.generation(generation), generation)  # before touching its files
        self.files.public_pem(generation)  # parsed (and on disk) before any answer needs it

        def work(tx: Tx) -> None:
            self.store.ensure_first_in(tx, self.clock.now_us())
            check_sign_with(self.store.generation_in(tx, generation), generation)
            before = self.store.app_generation_in(tx, app_id)
            if before is None:
                raise NotFound(f"app {app_id} not found", code="app_not_found")
            if before == generation:
                return
            self.store.set_app_generation_in(tx, app_id, generation)
            self.audit.record_in(
                tx,
                "platform_key.switch",
                f"app:{app_id}",
                operator_id=operator_id,
                actor=actor,
                detail=f"generation {before} -> {generation}",
            )

        self.db.run(work)
        self.apps.forget(app_id)
        return self.apps.app(app_id)

    def retire(
        self, generation: int, *, actor: str | None = None, operator_id: int | None = None
    ) -> KeyGeneration:
        """Never sign with `generation` again: refused while an app uses it, and for the
        newest. Retiring a retired generation changes nothing."""

        def work(tx: Tx) -> KeyGeneration:
            self.store.ensure_first_in(tx, self.clock.now_us())
            key = self.store.generation_in(tx, generation)
            if key is not None and key.state is KeyState.RETIRED:
                return key
            key = check_retire(key, generation, self.store.newest_in(tx))
            self.store.retire_in(tx, generation)
            self.audit.record_in(
                tx,
                "platform_key.retire",
                f"platform_key:{generation}",
                operator_id=operator_id,
                actor=actor,
            )
            return KeyGeneration(generation, KeyState.RETIRED, key.created_at_us, key.apps)

        return self.db.run(work)
