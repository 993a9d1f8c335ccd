"""Merchant notifications: an outbox row per trade event, delivered until acknowledged.

`trade_changed_in` runs inside the trade's transaction: it stores a snapshot of the trade (so
a retry days later still says what was true then) and schedules a `notify` job. Delivery runs
in the worker with NO transaction open (a slow merchant must hold no locks): render and sign
the form (a channel adapter does that), POST it, then record the attempt and either finish or
name the next try, following the retry schedule. Each attempt is a row in `notify_attempts`.

The worker delivers in batches (`OutsideBatch`, services/jobs.py): one read loads the
notifications of all the claimed jobs, and one transaction records the attempts of a group of
finished deliveries with their jobs' updates.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from paybao.domain.errors import NotFound
from paybao.services.audit import AuditTrail
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.jobs import Job, JobRunner, OutsideRecord
from paybao.services.ports import Clock, Database, Tx
from paybao.services.trades import Trade

JOB_NOTIFY = "notify"
# The published schedule: 4m, 10m, 10m, 1h, 2h, 6h, 15h (8 deliveries in about 25 hours).
RETRY_SCHEDULE_S_DEFAULT: tuple[int, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)
LIST_LIMIT_MAX = 200
_TRADE_FIELDS = tuple(field.name for field in fields(Trade))


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    notify_id: str
    trade_id: int
    merchant_id: int
    url: str
    event: str
    snapshot: Mapping[str, Any]
    status: str  # pending | delivered | failed
    attempts: int
    created_at_us: int
    last_attempt_at_us: int | None = None
    delivered_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    notification_id: int
    attempt_no: int
    at_us: int
    duration_ms: int
    http_status: int | None
    outcome: str  # success | rejected | error
    detail: str


@dataclass(frozen=True, slots=True)
class Delivery:
    http_status: int | None
    body_text: str
    error: str | None
    duration_ms: int

    @property
    def acknowledged(self) -> bool:
        """Only HTTP 200 with the body `success` ends the retries (surrounding space aside)."""
        return self.http_status == 200 and self.body_text.strip() == "success"


class NotificationStore(Protocol):
    def insert_notification(self, tx: Tx, notification: Notification) -> int: ...

    def notification(self, tx: Tx, notify_id: str) -> Notification | None: ...

    def notifications_by_notify_id(
        self, tx: Tx, notify_ids: Sequence[str]
    ) -> dict[str, Notification]: ...

    def record_attempts(self, tx: Tx, attempts: Sequence[tuple[Attempt, str]]) -> None:
        """Insert the attempts and set each notification's status (the one of its last
        attempt here) and counters, in a driver transaction (`Database.run(driver=True)`)."""
        ...

    def set_status(self, tx: Tx, notification_id: int, status: str) -> None: ...

    def notifications_of(self, tx: Tx, merchant_id: int, limit: int) -> list[Notification]: ...

    def attempts_of(self, tx: Tx, notification_id: int) -> list[Attempt]: ...


class NotificationRenderer(Protocol):
    def render(self, snapshot: Mapping[str, Any], notify_id: str, now_us: int) -> tuple[bytes, str]:
        """The signed request body and its Content-Type."""
        ...


class NotificationSender(Protocol):
    def post(self, url: str, body: bytes, content_type: str) -> Delivery: ...


class NotifyService:
    def __init__(
        self,
        *,
        db: Database,
        store: NotificationStore,
        clock: Clock,
        jobs: JobRunner,
        renderer: NotificationRenderer,
        sender: NotificationSender,
        retry_schedule_s: Sequence[int] = RETRY_SCHEDULE_S_DEFAULT,
        audit: AuditTrail | None = None,
    ) -> None:
        assert all(delay_s > 0 for delay_s in retry_schedule_s)
        self.db = db
        self.store = store
        self.clock = clock
        self.jobs = jobs
        self.renderer = renderer
        self.sender = sender
        self.retry_schedule_s = tuple(retry_schedule_s)
        # Who resent what (merchant portal, admin console, admin API): rows in the audit log.
        self.audit = audit

    def install_jobs(self) -> None:
        self.jobs.register_outside_batch(JOB_NOTIFY, _Deliveries(self))

    # Inside the business transaction ------------------------------------------------------

    def trade_changed_in(self, tx: Tx, trade: Trade, event: str, refund: Any = None) -> None:
        if not trade.notify_url:
            return
        now_us = self.clock.now_us()
        notification = Notification(
            id=0,
            notify_id=new_notify_id(now_us),
            trade_id=trade.id,
            merchant_id=trade.merchant_id,
            url=trade.notify_url,
            event=event,
            snapshot=snapshot_of(trade, event, refund),
            status="pending",
            attempts=0,
            created_at_us=now_us,
        )
        self.store.insert_notification(tx, notification)
        payload = {"notify_id": notification.notify_id}
        self.jobs.schedule_in(tx, JOB_NOTIFY, notification.notify_id, now_us, payload)

    # In the worker, outside any transaction -----------------------------------------------

    def notifications_for(self, jobs: Sequence[Job]) -> dict[int, Notification]:
        """The notifications the jobs deliver, by job id, in one read."""
        wanted = {job.id: _notify_id_of(job) for job in jobs}
        with self.db.read() as tx:
            found = self.store.notifications_by_notify_id(tx, sorted(set(wanted.values())))
        return {job_id: found[key] for job_id, key in wanted.items() if key in found}

    def deliver(self, notification: Notification | None) -> OutsideRecord:
        """One delivery. Returns the attempt to record (with the notification's new status)
        and None as the next try when done (acknowledged, or given up), else its time: the
        job runner writes both in one transaction with the job's own update."""
        if notification is None or notification.status == "delivered":
            return OutsideRecord(None)
        started_us = self.clock.now_us()
        notify_id = notification.notify_id
        body, content_type = self.renderer.render(notification.snapshot, notify_id, started_us)
        delivery = self.sender.post(notification.url, body, content_type)
        return self._record(notification, delivery, started_us)

    def _record(self, notification: Notification, delivery: Delivery, at_us: int) -> OutsideRecord:
        attempt_no = notification.attempts + 1
        attempt = Attempt(
            notification_id=notification.id,
            attempt_no=attempt_no,
            at_us=at_us,
            duration_ms=delivery.duration_ms,
            http_status=delivery.http_status,
            outcome=_outcome(delivery),
            detail=(delivery.error or delivery.body_text)[:200],
        )
        retry_at_us = self._next_try_us(attempt_no, delivery)
        status = "delivered" if delivery.acknowledged else "pending"
        if retry_at_us is None and not delivery.acknowledged:
            status = "failed"
        return OutsideRecord(retry_at_us, (attempt, status))

    def _next_try_us(self, attempt_no: int, delivery: Delivery) -> int | None:
        if delivery.acknowledged or attempt_no > len(self.retry_schedule_s):
            return None
        return self.clock.now_us() + self.retry_schedule_s[attempt_no - 1] * US_PER_S

    # Resending: the merchant portal and the admin console --------------------------------

    def resend(self, merchant_id: int, notify_id: str) -> bool:
        """Deliver again now (same notify_id): a merchant fixed its endpoint. Another
        merchant's notification is `notification_not_found`, as one that does not exist."""
        return self._resend(
            notify_id, merchant_id=merchant_id, operator_id=None, actor=f"merchant:{merchant_id}"
        )

    def resend_by_operator(
        self, operator_id: int | None, notify_id: str, *, actor: str = ""
    ) -> bool:
        """The same for an operator (any merchant's notification; audited under the operator,
        `actor` naming the API token when one was used; no operator: the shared admin token,
        named by `actor`)."""
        return self._resend(notify_id, merchant_id=None, operator_id=operator_id, actor=actor)

    def _resend(
        self, notify_id: str, *, merchant_id: int | None, operator_id: int | None, actor: str
    ) -> bool:
        """Mark pending and schedule one delivery now. Returns False when a resend for the
        same number of attempts is scheduled already (a double click delivers once)."""

        def work(tx: Tx) -> bool:
            notification = self.store.notification(tx, notify_id)
            mine = notification is not None and merchant_id in (None, notification.merchant_id)
            if notification is None or not mine:
                raise NotFound("no such notification", code="notification_not_found")
            self.store.set_status(tx, notification.id, "pending")
            key = f"{notify_id}:resend:{notification.attempts}"
            scheduled = self.jobs.schedule_in(
                tx, JOB_NOTIFY, key, self.clock.now_us(), {"notify_id": notify_id}
            )
            if self.audit is not None:
                detail = (
                    f"merchant {notification.merchant_id} {notification.event}, was "
                    f"{notification.status} after {notification.attempts} attempts"
                )
                self.audit.record_in(
                    tx,
                    "notify.resend",
                    f"notify:{notify_id}",
                    operator_id=operator_id,
                    actor=actor or None,
                    detail=detail,
                    outcome="ok" if scheduled else "already_scheduled",
                )
            return scheduled

        return self.db.run(work)

    def notification(self, notify_id: str) -> Notification | None:
        with self.db.read() as tx:
            return self.store.notification(tx, notify_id)

    def notifications_of(self, merchant_id: int, limit: int = 50) -> list[Notification]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.notifications_of(tx, merchant_id, limit)

    def attempts_of(self, notification_id: int) -> list[Attempt]:
        with self.db.read() as tx:
            return self.store.attempts_of(tx, notification_id)


@dataclass(frozen=True, slots=True)
class _Deliveries:
    """The notify jobs as an `OutsideBatch` of the job runner."""

    service: NotifyService

    def load(self, jobs: Sequence[Job]) -> dict[int, Notification]:
        return self.service.notifications_for(jobs)

    def run(self, job: Job, loaded: Notification | None) -> OutsideRecord:
        return self.service.deliver(loaded)

    def write_in(self, tx: Tx, records: Sequence[tuple[Attempt, str]]) -> None:
        self.service.store.record_attempts(tx, records)


def _notify_id_of(job: Job) -> str:
    # A resend's key is `<notify_id>:resend:<n>`; its payload names the notification.
    return str(job.payload.get("notify_id") or job.key)


def snapshot_of(trade: Trade, event: str, refund: Any = None) -> dict[str, Any]:
    """The trade (and refund) at the moment of the event, in domain names, JSON-ready."""
    # Flat dataclasses: field by field, without asdict's deep copy (this runs on every pay).
    snapshot = {name: _plain(getattr(trade, name)) for name in _TRADE_FIELDS}
    snapshot["event"] = event
    if refund is not None:
        snapshot["refund"] = {key: _plain(value) for key, value in asdict(refund).items()}
    # The store serialises it in the same transaction: a value JSON cannot hold fails there.
    return snapshot


def _plain(value: Any) -> Any:
    return str(value) if hasattr(value, "value") else value


def new_notify_id(now_us: int) -> str:
    day = datetime_from_us(now_us).strftime("%Y%m%d")
    return f"{day}0022{secrets.randbelow(10**22):022d}"


def _outcome(delivery: Delivery) -> str:
    if delivery.acknowledged:
        return "success"
    return "error" if delivery.http_status is None else "rejected"
