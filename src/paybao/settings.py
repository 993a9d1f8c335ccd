"""Settings, read once from the environment (prefix PAYBAO_) and passed down explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    request_body_bytes_max: int = Field(default=1_048_576, ge=1024)
    run_worker_in_server: bool = True
    worker_poll_interval_s: float = Field(default=0.5, gt=0, le=60)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paybao.sqlite3').resolve()}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
