"""Settings, read once from the environment (prefix PAYBAO_) and passed down explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYBAO_", extra="ignore")

    database_url: str = ""
    sandbox: bool = False
    base_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path("./var")
    # Durability of SQLite commits: FULL survives power loss, NORMAL (WAL) survives a crash.
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL)$")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100, le=600_000)
    poster_batch_size_max: int = Field(default=1000, ge=1, le=8190)
    poster_queue_size_max: int = Field(default=100_000, ge=1)
    admin_token: str = ""
    # The operator role (domain/operator_roles.py) the admin REST token acts with: "viewer"
    # gives monitoring scripts a read-only token.
    admin_token_role: str = Field(default="admin", pattern="^(viewer|support|finance|admin)$")
    # Any request's body (413 request_too_large past it, before a handler reads it): room for
    # the largest upload, a photographed payment code (adapters/qr.py, 8 MiB), and its form.
    # The gateway holds its own, smaller limit (adapters/alipay/wire.py).
    request_body_bytes_max: int = Field(default=9 * 1_048_576, ge=1024)
    run_worker_in_server: bool = True
    # Every Nth response of a server process closes its connection, so that kept-alive clients
    # spread over the processes of `serve --workers N` (web/connection_recycle.py); 0 = never.
    http_recycle_every_responses: int = Field(default=200, ge=0, le=1_000_000)
    worker_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    # Each worker writes a heartbeat at most this often; one older than `stale_s` is flagged on
    # the admin health page, which lists workers seen in the last `shown_s`; rows whose last
    # beat is older than `keep_s` are deleted.
    worker_heartbeat_interval_s: float = Field(default=5.0, gt=0, le=300)
    worker_heartbeat_stale_s: int = Field(default=30, ge=1, le=86_400)
    worker_heartbeat_shown_s: int = Field(default=600, ge=60, le=7 * 86_400)
    worker_heartbeat_keep_s: int = Field(default=86_400, ge=600, le=90 * 86_400)

    # --- wallet (issue 3) ---
    # Signs session cookies and CSRF tokens; empty = a random key kept in data_dir/secret.key.
    secret_key: str = ""
    # Argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): ~20-40 ms per check on one
    # core. Every payment verifies a password, so this cost is paid on each payment; raise it
    # if your payment volume allows. Stored hashes carry their own parameters.
    password_hash_time_cost: int = Field(default=2, ge=1, le=10)
    password_hash_memory_kib: int = Field(default=19_456, ge=8, le=1_048_576)
    # Hashes run on this many threads of their own per process (adapters/passwords.py): memory
    # for them stays under threads x memory_kib however many checks arrive at once.
    password_hash_threads_max: int = Field(default=2, ge=1, le=64)
    accounts_per_id_number_max: int = Field(default=3, ge=1, le=100)
    sms_code_valid_s: int = Field(default=300, ge=30)
    sms_tries_max: int = Field(default=5, ge=1)
    sms_resend_interval_s: int = Field(default=60, ge=0)
    sms_sends_per_day_max: int = Field(default=10, ge=1)
    payment_password_failures_max: int = Field(default=5, ge=1)
    payment_password_lock_s: int = Field(default=3 * 3600, ge=60)
    # Device confirmations ("fingerprint pay", domain/devices.py): per-operation ceiling
    # above which the payment password is still required, devices per user, clock skew.
    device_confirm_amount_max_fen: int = Field(default=2_000_00, ge=0)
    devices_per_user_max: int = Field(default=5, ge=1, le=50)
    device_signature_skew_s: int = Field(default=300, ge=30, le=3600)
    # Real-time risk control of transfers and withdrawals (domain/risk.py): refuse beyond
    # `ops_per_hour_max` money-outs per user and hour; hold an instant transfer of at least
    # `new_payee_delay_fen` to a new payee for 2 hours; ask a device-confirmed transfer to a new
    # payee of at least `device_new_payee_fen` for the password; an amount anomaly is at least
    # `anomaly_floor_fen` and above `anomaly_factor` times the user's largest recent money-out.
    risk_enabled: bool = True
    risk_ops_per_hour_max: int = Field(default=30, ge=1)
    risk_new_payee_delay_fen: int = Field(default=5_000_00, ge=0)
    risk_device_new_payee_fen: int = Field(default=1_000_00, ge=0)
    risk_anomaly_floor_fen: int = Field(default=2_000_00, ge=0)
    risk_anomaly_factor: int = Field(default=5, ge=1, le=1000)
    # Password-free payment-code payments wait for the password past this many merchant
    # payments in an hour, or when anomalous from this floor up (domain/risk.py, CODE_PAY).
    risk_code_pays_per_hour_max: int = Field(default=20, ge=1)
    risk_code_pay_anomaly_floor_fen: int = Field(default=200_00, ge=0)
    class_i_lifetime_fen: int = Field(default=1_000_00, ge=0)
    class_ii_yearly_fen: int = Field(default=100_000_00, ge=0)
    class_iii_yearly_fen: int = Field(default=200_000_00, ge=0)
    withdraw_free_quota_fen: int = Field(default=20_000_00, ge=0)
    withdraw_fee_min_fen: int = Field(default=10, ge=0)
    statement_page_size_max: int = Field(default=100, ge=1, le=1000)
    api_token_ttl_s: int = Field(default=30 * 86_400, ge=60)
    # Sandbox bank fault knobs: added latency, and shares (0..1) of requests that time out
    # (the bank acts but the answer is lost) or fail outright.
    bank_latency_ms: int = Field(default=0, ge=0, le=60_000)
    bank_timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    bank_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    bank_query_delay_s: int = Field(default=30, ge=1)
    # The bank every card debit, payout, verification and statement goes through
    # (docs/bank-protocol.md): `sandbox`, the sandbox bank in this database; `http`, an
    # operator's bank bridge at `bank_url` speaking paybao's signed JSON protocol, with the
    # shared secret from `bank_secret` or the file `bank_secret_file`. A call waits at most
    # `bank_timeout_s` (connecting at most `bank_connect_timeout_s` of it) and reads at most
    # `bank_answer_bytes_max` of an answer (at least a full statement page of 1,000 lines); the
    # timeout must be shorter than the query delay.
    bank_provider: str = Field(default="sandbox", pattern="^(sandbox|http)$")
    bank_url: str = Field(default="", max_length=2000)
    bank_secret: SecretStr = SecretStr("")
    bank_secret_file: str = Field(default="", max_length=4096)
    bank_timeout_s: float = Field(default=10.0, gt=0, le=60)
    bank_connect_timeout_s: float = Field(default=3.0, gt=0, le=30)
    bank_answer_bytes_max: int = Field(default=1_048_576, ge=262_144, le=16 * 1_048_576)
    # Card payouts (alipay-product.md section 5; domain/card_payouts.py): credit-card
    # repayments are free up to this much per natural month (China time), then 0.1% with this
    # minimum; transfers to a card pay the withdrawal fee above. One payout sends at most this.
    card_repayment_free_month_fen: int = Field(default=2_000_00, ge=0)
    card_repayment_fee_min_fen: int = Field(default=10, ge=0)
    card_payout_amount_fen_max: int = Field(default=50_000_00, ge=1)
    # Top-up channels (domain/topup_channels.py): an online-banking top-up waits this long for
    # the bank, which paybao asks itself every `bank_pay_query_delay_s`; a cash code is valid
    # this long, for 10-5,000 CNY. The HMAC key is shared with the bank (set it in production).
    bank_pay_ttl_s: int = Field(default=30 * 60, ge=60, le=86_400)
    bank_pay_query_delay_s: int = Field(default=120, ge=1, le=3600)
    bank_pay_timeout_s: float = Field(default=5.0, gt=0, le=30)
    bank_pay_hmac_key: str = "paybao-sandbox-bank-pay-key"
    cash_code_ttl_s: int = Field(default=30 * 60, ge=60, le=86_400)
    cash_amount_min_fen: int = Field(default=10_00, ge=1)
    cash_amount_max_fen: int = Field(default=5_000_00, ge=1)

    # --- SMS delivery (services/sms_delivery.py; docs/operations.md "SMS") ---
    # sandbox: texts stay in the developer inbox (/dev/sms, sandbox mode only). http: a signed
    # JSON webhook (adapters/sms_http.py). aliyun: Alibaba Cloud SMS SendSms by template
    # (adapters/sms_aliyun.py). A gateway set here sends in sandbox mode too (the inbox then
    # keeps a copy). Each try waits at most `sms_timeout_s` (connect at most 3 s of it).
    sms_provider: str = Field(default="sandbox", pattern="^(sandbox|http|aliyun)$")
    sms_timeout_s: float = Field(default=5.0, gt=0, le=30)
    # The webhook: an https URL (http only to this machine); the HMAC-SHA256 key, >= 32 chars.
    sms_http_url: str = Field(default="", max_length=2000)
    sms_http_secret: SecretStr = SecretStr("")
    # Aliyun: the RAM user's AccessKey pair, the approved signature (签名) and templates. Codes
    # (every code_* kind) use `sms_aliyun_template_code` (variable ${code}) unless
    # `sms_aliyun_templates` names one for their kind ({"code_bind_card": "SMS_2", "notice":
    # "SMS_3"}); a text whose kind has no template (a reminder without "notice") is refused.
    sms_aliyun_endpoint: str = Field(default="https://dysmsapi.aliyuncs.com/", max_length=500)
    sms_aliyun_region_id: str = Field(default="cn-hangzhou", pattern="^[a-z0-9-]{1,32}$")
    sms_aliyun_access_key_id: str = Field(default="", max_length=128)
    sms_aliyun_access_key_secret: SecretStr = SecretStr("")
    sms_aliyun_sign_name: str = Field(default="", max_length=64)
    sms_aliyun_template_code: str = Field(default="", max_length=64)
    sms_aliyun_templates: dict[str, str] = Field(default_factory=dict)

    # --- merchant acquiring and the gateway (issue 4) ---
    merchant_fee_rate_ppm_default: int = Field(default=6000, ge=0, le=100_000)
    refund_window_days: int = Field(default=90, ge=1, le=3650)
    # Request timestamps further than this from now are refused (replay protection).
    gateway_timestamp_window_s: int = Field(default=900, ge=10, le=86_400)
    # SDKs stamp requests with the merchant's local clock, meant as Beijing time. None: read
    # ours the same way (right when server and merchants share a zone); else the clients' offset.
    gateway_client_utc_offset_minutes: int | None = Field(default=None, ge=-840, le=840)
    # Call limits per app (40005 isv.app-call-limited), per server process; and per (app,
    # method) for the methods named here (isv.method-call-limited): {method: [per_s, burst]}.
    gateway_app_calls_per_s: float = Field(default=1000.0, gt=0, le=1_000_000)
    gateway_app_calls_burst: int = Field(default=2000, ge=1, le=10_000_000)
    gateway_method_call_limits: dict[str, tuple[float, int]] = Field(
        default_factory=lambda: {"zhima.credit.score.brief.get": (5.0, 50)}
    )
    notify_retry_schedule_s: tuple[int, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)
    notify_timeout_s: float = Field(default=5.0, gt=0, le=30)
    notify_on_close: bool = False
    notify_on_finish: bool = False
    # Self-service merchant sign-ups: at most this many per client address (IPv4, or IPv6 /64)
    # and per contact (e-mail or mobile) in a sliding window; the next is refused (429).
    merchant_signups_per_ip_max: int = Field(default=10, ge=1, le=100_000)
    merchant_signup_ip_window_s: int = Field(default=3600, ge=60, le=30 * 86_400)
    merchant_signups_per_contact_max: int = Field(default=3, ge=1, le=100_000)
    merchant_signup_contact_window_s: int = Field(default=86_400, ge=60, le=30 * 86_400)

    # --- escrow (issue 6) ---
    # Auto-confirm after shipment, by goods type (alipay-product.md section 2).
    escrow_confirm_s_auto_recharge: int = Field(default=0, ge=0)
    escrow_confirm_s_auto_delivery: int = Field(default=24 * 3600, ge=0)
    escrow_confirm_s_virtual: int = Field(default=3 * 86_400, ge=0)
    escrow_confirm_s_express: int = Field(default=10 * 86_400, ge=0)
    escrow_confirm_s_surface_mail: int = Field(default=30 * 86_400, ge=0)
    # A seller who does not answer a refund request in time has agreed to it; a refused buyer
    # who does not escalate in time has withdrawn it.
    escrow_refund_response_s: int = Field(default=5 * 86_400, ge=60)
    escrow_escalate_window_s: int = Field(default=7 * 86_400, ge=60)
    escrow_pay_timeout_s: int = Field(default=86_400, ge=60, le=15 * 86_400)
    escrow_market_fee_rate_ppm: int = Field(default=6000, ge=0, le=100_000)

    # --- Yu'e Bao, the money-market balance (alipay-product.md section 14; domain/fund.py) ---
    # Trading days are Monday to Friday minus these dates ("2026-10-01,2026-10-02", China
    # time); money in before the cut-off (seconds after 00:00 China time; 15:00) on a trading
    # day T is confirmed on the next trading day. Instant transfers out: at most this much per
    # user per China day. The income per 10,000 CNY of a day nobody published (0.0001 CNY).
    fund_holidays: str = Field(default="", max_length=20_000)
    fund_cutoff_s: int = Field(default=15 * 3600, ge=1, le=86_399)
    fund_fast_redeem_daily_fen: int = Field(default=10_000_00, ge=0)
    fund_income_per_10k_default_e4: int = Field(default=6500, ge=0, le=100_000)

    # --- withholding agreements (alipay-product.md section 9; domain/agreements.py) ---
    # Password-free deductions: at most this much each, and per user across all agreements
    # per Beijing day and month. A sign page stays open this long.
    withholding_single_fen_max: int = Field(default=100_00, ge=1)
    withholding_day_fen_max: int = Field(default=1_000_00, ge=1)
    withholding_month_fen_max: int = Field(default=30_000_00, ge=1)
    agreement_sign_valid_s: int = Field(default=1800, ge=60, le=7 * 86_400)

    # --- transit ride codes (alipay-product.md section 10; domain/transit.py) ---
    # No ride above the fare cap; owed rides guaranteed up to the credit limit per user; a
    # certificate lives this long (its daily issuer key stays downloadable 7 days); a code is
    # accepted this old at a gate, and the phone's and the gate's clocks may differ by the skew.
    transit_ride_fare_fen_max: int = Field(default=50_00, ge=1, le=1_000_00)
    transit_credit_fen_max: int = Field(default=30_00, ge=0, le=1_000_00)
    transit_certificate_valid_s: int = Field(default=3 * 86_400, ge=3600, le=6 * 86_400)
    transit_code_valid_s: int = Field(default=60, ge=30, le=300)
    transit_clock_skew_s: int = Field(default=30, ge=0, le=300)

    # --- fund pre-authorisation (alipay-product.md section 9; domain/preauth.py) ---
    # An order's life when the request names no timeout_express (then what is left is
    # unfrozen), and an app order's time to be confirmed when it names no pay_timeout.
    preauth_freeze_timeout_s: int = Field(default=2 * 86_400, ge=60, le=15 * 86_400)
    preauth_confirm_timeout_s: int = Field(default=15 * 60, ge=60, le=15 * 86_400)

    # --- paying by code (issue 5); defaults from alipay-product.md sections 1 and 4 ---
    paycode_password_free_fen: int = Field(default=1_000_00, ge=0)
    paycode_skew_steps: int = Field(default=1, ge=0, le=2)
    # Failed verifications per device and day before its codes need the payment password.
    paycode_failures_per_day_max: int = Field(default=10, ge=1)
    paycode_devices_per_user_max: int = Field(default=5, ge=1, le=50)
    barcode_password_free_daily_fen: int = Field(default=1_000_00, ge=0)  # level C
    barcode_daily_fen: int = Field(default=5_000_00, ge=0)  # level B
    static_code_daily_fen: int = Field(default=500_00, ge=0)  # level D, per payer
    qr_order_valid_s: int = Field(default=7200, ge=60, le=86_400)

    # --- Huabei credit pay (alipay-product.md section 7; domain/credit.py) ---
    credit_limit_fen_min: int = Field(default=500_00, ge=1)
    credit_limit_fen_max: int = Field(default=50_000_00, ge=1)
    # Overdue penalty a day on the unpaid principal, in parts per million (500 = 0.05 %).
    credit_penalty_rate_ppm: int = Field(default=500, ge=0, le=10_000)

    # --- city services: bills and mobile top-up (alipay-product.md section 6; domain/billpay.py)
    # Every call to a biller waits this long at most. Electricity may be prepaid up to this
    # much above the bill. Saved accounts per user, and how old their last look at the biller
    # may grow before the reminder sweep asks again. A lost confirmation is asked again after
    # `retry_delay_s` (then doubling, at most hourly) until `answer_wait_s`, when the hold goes
    # back to the user. Sandbox biller fault knobs as the sandbox bank's.
    billpay_biller_timeout_s: float = Field(default=5.0, gt=0, le=60)
    billpay_prepay_over_fen_max: int = Field(default=5_000_00, ge=0)
    billpay_saved_accounts_max: int = Field(default=20, ge=1, le=200)
    billpay_refresh_s: int = Field(default=86_400, ge=60)
    billpay_retry_delay_s: int = Field(default=30, ge=1, le=3600)
    billpay_answer_wait_s: int = Field(default=3 * 86_400, ge=60, le=30 * 86_400)
    billpay_sandbox_latency_ms: int = Field(default=0, ge=0, le=60_000)
    billpay_sandbox_timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    billpay_sandbox_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    # --- profit sharing (分账; domain/royalty.py): the most of a trade's (total - refunded) an
    # app may share out, in percent (Alipay's default maximum is 30).
    royalty_max_share_percent: int = Field(default=30, ge=1, le=100)

    # --- red packets (红包; domain/red_packets.py): a share's ceiling, shares per packet, the
    # greeting's length and default, and how long a packet may be claimed before the rest
    # goes back to its sender.
    red_packet_share_max_fen: int = Field(default=200_00, ge=1, le=100_000_00)
    red_packet_count_max: int = Field(default=100, ge=1, le=1000)
    red_packet_greeting_chars_max: int = Field(default=24, ge=1, le=32)
    red_packet_greeting_default: str = Field(
        default="恭喜发财，大吉大利", min_length=1, max_length=24
    )
    red_packet_expiry_s: int = Field(default=86_400, ge=60, le=30 * 86_400)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paybao.sqlite3').resolve()}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
