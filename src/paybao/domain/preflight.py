"""Production-readiness rules for `paybao preflight`: facts in, checks out.

Every rule is a pure function of `Facts` (gathered by services/preflight.py from the settings,
the data folder and the database) and yields one `Check` with a stable code, a severity
(`error` blocks a production start, `warning` informs), whether it passed, a one-line message
and a one-line fix. A rule whose facts could not be gathered (the database was not reachable,
the schema is behind) fails with what stopped it: a check that could not run never passes.

The codes are stable: scripts and alerting key on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

ERROR = "error"
WARNING = "warning"

TOKEN_LENGTH_MIN = 32
SECRET_LENGTH_MIN = 32
# OWASP Password Storage Cheat Sheet, Argon2id: any of these (memory KiB, iterations) pairs,
# with parallelism 1, is the minimum; more memory allows fewer iterations.
ARGON2_MINIMA: tuple[tuple[int, int], ...] = (
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
)
NOTIFY_TIMEOUT_S_MIN = 1.0
NOTIFY_TIMEOUT_S_MAX = 10.0
NOTIFY_RETRY_SPAN_S_MIN = 3600
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]"})  # noqa: S104
# Owner only: a key file or the data folder that group or others can open is an error.
PRIVATE_MODE_MASK = 0o077


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    severity: str  # error | warning
    ok: bool
    message: str
    fix: str

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "ok": self.ok,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class PathMode:
    """A file or folder and its permission bits; `mode` None: it does not exist."""

    path: str
    mode: int | None
    is_dir: bool = False


@dataclass(frozen=True, slots=True)
class SchemaFacts:
    current: tuple[str, ...]
    head: tuple[str, ...]
    pending: tuple[str, ...]
    known: bool  # False: the database names a revision this code does not know

    @property
    def at_head(self) -> bool:
        return self.known and self.current == self.head


@dataclass(frozen=True, slots=True)
class Facts:
    sandbox: bool
    dialect: str  # sqlite | postgresql
    sqlite_synchronous: str
    base_url: str
    admin_token_length: int  # 0: the shared token is off
    secret_key_length: int  # 0: a random key kept in the data folder
    bank_pay_hmac_key_is_default: bool
    bank_pay_hmac_key_length: int
    sandbox_fault_settings: tuple[str, ...]  # fault knobs set above zero, by variable name
    data_dir: PathMode
    private_files: tuple[PathMode, ...]  # key files, the SQLite database file
    argon2_time_cost: int
    argon2_memory_kib: int
    notify_timeout_s: float
    notify_retry_schedule_s: tuple[int, ...]
    risk_enabled: bool
    heartbeat_stale_s: int
    # What the database told; None with the reason in `*_error` when it could not be asked.
    schema: SchemaFacts | None = None
    schema_error: str = ""
    reconcile_differences: int | None = None
    reconcile_error: str = ""
    # Seconds since the freshest beat of a running worker; None: no worker running.
    heartbeat_age_s: float | None = None
    heartbeat_error: str = ""
    # The class names of the adapters money and SMS codes go through ("" when not known).
    bank_adapter: str = ""
    sms_sender: str = ""
    # This data folder's password pepper fingerprint, and the stored hashes per fingerprint
    # ("": made before the pepper); None with the reason in `password_hashes_error`.
    password_pepper: str = ""
    password_hashes: tuple[tuple[str, int], ...] | None = None
    password_hashes_error: str = ""


Rule = Callable[[Facts], Check]


def _check(code: str, severity: str, ok: bool, message: str, fix: str) -> Check:
    return Check(code, severity, ok, message, fix)


def sandbox_off(facts: Facts) -> Check:
    return _check(
        "sandbox_on",
        ERROR,
        not facts.sandbox,
        "sandbox mode is on: the test clock can be moved, SMS codes land in the developer"
        " inbox, demo cards and the bank's fault knobs work"
        if facts.sandbox
        else "sandbox mode is off",
        "set PAYBAO_SANDBOX=0",
    )


def database_kind(facts: Facts) -> Check:
    sqlite = facts.dialect == "sqlite"
    return _check(
        "database_sqlite",
        WARNING,
        not sqlite,
        "the database is SQLite: one machine, one writer at a time (fine for a small operator)"
        if sqlite
        else f"the database is {facts.dialect}",
        "for several machines or heavy load use PostgreSQL (PAYBAO_DATABASE_URL=postgresql+psycopg://...)",
    )


def sqlite_synchronous_full(facts: Facts) -> Check:
    applies = facts.dialect == "sqlite"
    ok = not applies or facts.sqlite_synchronous.upper() == "FULL"
    return _check(
        "sqlite_synchronous_not_full",
        WARNING,
        ok,
        f"SQLite commits with synchronous={facts.sqlite_synchronous}: a power cut may lose the"
        " last committed payments"
        if not ok
        else "SQLite commits survive a power cut (FULL)"
        if applies
        else "not SQLite",
        "set PAYBAO_SQLITE_SYNCHRONOUS=FULL",
    )


def base_url_https(facts: Facts) -> Check:
    scheme = urlsplit(facts.base_url).scheme.lower()
    ok = scheme == "https"
    return _check(
        "base_url_not_https",
        ERROR,
        ok,
        f"PAYBAO_BASE_URL is {facts.base_url!r}: cashier links, QR codes and cookies would"
        " travel unencrypted"
        if not ok
        else "PAYBAO_BASE_URL is https",
        "set PAYBAO_BASE_URL=https://pay.example.com (the public address behind your TLS proxy)",
    )


def base_url_public(facts: Facts) -> Check:
    host = (urlsplit(facts.base_url).hostname or "").lower()
    local = host in LOCAL_HOSTS or host.startswith("127.") or host == ""
    return _check(
        "base_url_local",
        ERROR,
        not local,
        f"PAYBAO_BASE_URL points at {host or 'no host'}: QR codes and merchants' redirects"
        " would lead nowhere"
        if local
        else f"PAYBAO_BASE_URL names {host}",
        "set PAYBAO_BASE_URL to the public name users and merchants reach",
    )


def admin_token_strong(facts: Facts) -> Check:
    length = facts.admin_token_length
    ok = length == 0 or length >= TOKEN_LENGTH_MIN
    return _check(
        "admin_token_short",
        ERROR,
        ok,
        f"PAYBAO_ADMIN_TOKEN has {length} characters (at least {TOKEN_LENGTH_MIN} needed)"
        if not ok
        else "the shared admin token is off or long enough",
        "set PAYBAO_ADMIN_TOKEN to `openssl rand -hex 32`, or unset it",
    )


def admin_token_unset(facts: Facts) -> Check:
    ok = facts.admin_token_length == 0
    return _check(
        "admin_token_shared",
        WARNING,
        ok,
        "the shared PAYBAO_ADMIN_TOKEN is set: every script acts as one unnamed operator"
        if not ok
        else "no shared admin token",
        "give each person and script a personal token (`paybao operator token create`) and"
        " unset PAYBAO_ADMIN_TOKEN",
    )


def secret_key_strong(facts: Facts) -> Check:
    length = facts.secret_key_length
    ok = length == 0 or length >= SECRET_LENGTH_MIN
    return _check(
        "secret_key_short",
        ERROR,
        ok,
        f"PAYBAO_SECRET_KEY has {length} characters: session cookies could be forged"
        if not ok
        else "sessions are signed with a strong key",
        "set PAYBAO_SECRET_KEY to `openssl rand -hex 32`, or unset it (a random key is kept in"
        " the data folder)",
    )


def bank_pay_key_set(facts: Facts) -> Check:
    ok = not facts.bank_pay_hmac_key_is_default and facts.bank_pay_hmac_key_length >= (
        SECRET_LENGTH_MIN
    )
    return _check(
        "bank_pay_hmac_key_default",
        ERROR,
        ok,
        "PAYBAO_BANK_PAY_HMAC_KEY is the sandbox's published key: anyone can forge the bank's"
        " online-banking notices and credit wallets"
        if facts.bank_pay_hmac_key_is_default
        else f"PAYBAO_BANK_PAY_HMAC_KEY has {facts.bank_pay_hmac_key_length} characters"
        if not ok
        else "the online-banking key is not the sandbox's",
        "set PAYBAO_BANK_PAY_HMAC_KEY to the key agreed with the bank (at least 32 characters)",
    )


def sandbox_faults_off(facts: Facts) -> Check:
    on = facts.sandbox_fault_settings
    return _check(
        "sandbox_faults_on",
        ERROR,
        not on,
        f"fault knobs of the sandbox bank or billers are set: {', '.join(on)}"
        if on
        else "no sandbox fault knob is set",
        f"unset {', '.join(on)}" if on else "nothing to do",
    )


def data_dir_private(facts: Facts) -> Check:
    folder = facts.data_dir
    if folder.mode is None:
        return _check(
            "data_dir_open",
            ERROR,
            False,
            f"the data folder {folder.path} does not exist (it would be made with the umask)",
            f"mkdir -m 700 {folder.path}",
        )
    ok = folder.mode & PRIVATE_MODE_MASK == 0
    return _check(
        "data_dir_open",
        ERROR,
        ok,
        f"the data folder {folder.path} is mode {folder.mode:o}: group or others can open the"
        " platform's keys"
        if not ok
        else f"the data folder is mode {folder.mode:o}",
        f"chmod 700 {folder.path}",
    )


def private_files_private(facts: Facts) -> Check:
    opened = [f for f in facts.private_files if f.mode is not None and f.mode & PRIVATE_MODE_MASK]
    return _check(
        "key_file_open",
        ERROR,
        not opened,
        "readable by group or others: " + ", ".join(f"{f.path} ({f.mode or 0:o})" for f in opened)
        if opened
        else f"{sum(1 for f in facts.private_files if f.mode is not None)} key/database file(s),"
        " owner only",
        f"chmod 600 {' '.join(f.path for f in opened)}" if opened else "nothing to do",
    )


def schema_at_head(facts: Facts) -> Check:
    schema = facts.schema
    if schema is None:
        return _check(
            "schema_not_at_head",
            ERROR,
            False,
            f"the schema could not be read: {facts.schema_error or 'unknown error'}",
            "check PAYBAO_DATABASE_URL, then run `paybao db upgrade`",
        )
    if not schema.known:
        return _check(
            "schema_not_at_head",
            ERROR,
            False,
            f"the database is at {','.join(schema.current)}, unknown to this code (a newer"
            " paybao?)",
            "run the paybao version that migrated this database",
        )
    return _check(
        "schema_not_at_head",
        ERROR,
        schema.at_head,
        f"{len(schema.pending)} migration(s) pending: {_first(schema.pending)}"
        if not schema.at_head
        else f"schema at head {','.join(schema.head)}",
        "`paybao db backup --to FILE`, then `paybao db upgrade`",
    )


def reconcile_clean(facts: Facts) -> Check:
    differences = facts.reconcile_differences
    if differences is None:
        return _check(
            "reconcile_not_clean",
            ERROR,
            False,
            f"reconcile could not run: {facts.reconcile_error or 'unknown error'}",
            "fix the checks above, then run `paybao reconcile`",
        )
    return _check(
        "reconcile_not_clean",
        ERROR,
        differences == 0,
        f"`paybao reconcile` found {differences} difference(s)"
        if differences
        else "`paybao reconcile` is clean",
        "run `paybao reconcile` and resolve every difference before taking payments",
    )


def worker_alive(facts: Facts) -> Check:
    age_s = facts.heartbeat_age_s
    if facts.heartbeat_error:
        return _check(
            "worker_heartbeat_stale",
            WARNING,
            False,
            f"worker heartbeats could not be read: {facts.heartbeat_error}",
            "fix the checks above, then start `paybao worker` (or `paybao serve`)",
        )
    ok = age_s is not None and age_s <= facts.heartbeat_stale_s
    return _check(
        "worker_heartbeat_stale",
        WARNING,
        ok,
        "no worker is running: notifications, timers and sweeps wait"
        if age_s is None
        else f"the freshest worker heartbeat is {age_s:.0f} s old (stale after"
        f" {facts.heartbeat_stale_s} s): notifications and timers may not be running"
        if not ok
        else f"a worker beat {age_s:.0f} s ago",
        "start `paybao worker` (or `paybao serve` with PAYBAO_RUN_WORKER_IN_SERVER=1)",
    )


def argon2_strong(facts: Facts) -> Check:
    memory_kib, time_cost = facts.argon2_memory_kib, facts.argon2_time_cost
    ok = any(memory_kib >= m and time_cost >= t for m, t in ARGON2_MINIMA)
    return _check(
        "argon2_below_owasp",
        ERROR,
        ok,
        f"argon2id m={memory_kib} KiB, t={time_cost}"
        + (" is below OWASP's minimum (19 MiB with t=2)" if not ok else " meets OWASP's minimum"),
        "set PAYBAO_PASSWORD_HASH_MEMORY_KIB=19456 and PAYBAO_PASSWORD_HASH_TIME_COST=2 (or more)",
    )


def password_pepper_matches(facts: Facts) -> Check:
    """Stored hashes made under another pepper mean the data folder's password-pepper.key is
    not the one they were made with: nobody could sign in or pay (adapters/passwords.py)."""
    if facts.password_hashes is None:
        return _check(
            "password_pepper",
            ERROR,
            False,
            "the stored password hashes could not be read: "
            + (facts.password_hashes_error or "the platform could not be opened"),
            "fix the checks above",
        )
    counts = dict(facts.password_hashes)
    foreign = {fp: n for fp, n in counts.items() if fp and fp != facts.password_pepper}
    legacy = counts.get("", 0)
    mine = counts.get(facts.password_pepper, 0)
    message = f"{mine} password hash(es) under this data folder's pepper {facts.password_pepper}"
    if legacy:
        message += f", {legacy} from before the pepper (replaced at the next right password)"
    if foreign:
        others = ", ".join(f"{n} under {fp}" for fp, n in sorted(foreign.items()))
        message += f"; {others}: made with another password-pepper.key"
    return _check(
        "password_pepper",
        ERROR,
        not foreign,
        message,
        "put back the password-pepper.key those hashes were made with (from the backup made"
        " with --with-keys, or the other hosts' data folder); without it they cannot verify",
    )


def notify_timeout_sane(facts: Facts) -> Check:
    timeout_s = facts.notify_timeout_s
    ok = NOTIFY_TIMEOUT_S_MIN <= timeout_s <= NOTIFY_TIMEOUT_S_MAX
    return _check(
        "notify_timeout",
        WARNING,
        ok,
        f"PAYBAO_NOTIFY_TIMEOUT_S is {timeout_s:g} s"
        + (
            ": merchants on a slow link miss notifications"
            if timeout_s < NOTIFY_TIMEOUT_S_MIN
            else ": one slow merchant holds a worker that long per attempt"
            if not ok
            else ""
        ),
        f"set PAYBAO_NOTIFY_TIMEOUT_S between {NOTIFY_TIMEOUT_S_MIN:g} and"
        f" {NOTIFY_TIMEOUT_S_MAX:g} (default 5)",
    )


def notify_retries_sane(facts: Facts) -> Check:
    schedule = facts.notify_retry_schedule_s
    span_s = sum(schedule)
    ok = bool(schedule) and all(s > 0 for s in schedule) and span_s >= NOTIFY_RETRY_SPAN_S_MIN
    return _check(
        "notify_retries",
        WARNING,
        ok,
        f"notifications are retried {len(schedule)} time(s) over {span_s} s"
        + (": a merchant down for an hour misses them" if not ok else ""),
        "keep Alipay's schedule: PAYBAO_NOTIFY_RETRY_SCHEDULE_S="
        "[240,600,600,3600,7200,21600,54000]",
    )


def risk_on(facts: Facts) -> Check:
    return _check(
        "risk_disabled",
        WARNING,
        facts.risk_enabled,
        "real-time risk control is on" if facts.risk_enabled else "real-time risk control is off",
        "set PAYBAO_RISK_ENABLED=1",
    )


def real_adapters(facts: Facts) -> Check:
    if not facts.bank_adapter or not facts.sms_sender:
        return _check(
            "sandbox_adapters",
            WARNING,
            False,
            "the bank and SMS adapters could not be told: the platform could not be opened",
            "fix the checks above",
        )
    sandboxed = [
        f"{what} {name}"
        for what, name in (("bank", facts.bank_adapter), ("SMS", facts.sms_sender))
        if name.startswith("Sandbox")
    ]
    return _check(
        "sandbox_adapters",
        WARNING,
        not sandboxed,
        f"money or codes go through sandbox adapters: {', '.join(sandboxed)}"
        if sandboxed
        else "bank and SMS adapters are not the sandbox's",
        "for SMS set PAYBAO_SMS_PROVIDER=http or aliyun (docs/operations.md section 9); for the"
        " bank run a closed loop (cash top-ups, transfers, merchants) or write a bank adapter"
        " behind adapters/banks/port.py",
    )


def _first(names: Sequence[str], shown: int = 3) -> str:
    more = len(names) - shown
    return " ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


RULES: tuple[Rule, ...] = (
    sandbox_off,
    database_kind,
    sqlite_synchronous_full,
    base_url_https,
    base_url_public,
    admin_token_strong,
    admin_token_unset,
    secret_key_strong,
    bank_pay_key_set,
    sandbox_faults_off,
    data_dir_private,
    private_files_private,
    schema_at_head,
    reconcile_clean,
    worker_alive,
    argon2_strong,
    password_pepper_matches,
    notify_timeout_sane,
    notify_retries_sane,
    risk_on,
    real_adapters,
)


def evaluate(facts: Facts, rules: Sequence[Rule] = RULES) -> list[Check]:
    return [rule(facts) for rule in rules]


def passed(checks: Sequence[Check]) -> bool:
    """No failed error: warnings never block."""
    return not any(not c.ok and c.severity == ERROR for c in checks)
