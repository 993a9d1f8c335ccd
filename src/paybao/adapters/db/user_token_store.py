"""SQL for ending a wallet user's API bearer tokens all at once (after a password reset)."""

from __future__ import annotations

from sqlalchemy import Connection, update

from paybao.adapters.db.tables.wallet import api_tokens


class SqlUserTokenStore:
    def revoke_all_in(self, tx: Connection, user_id: int, now_us: int) -> int:
        """Revoke every token of the user still live; returns how many. `api_tokens` has no
        index on user_id, so this scans the table: it runs once per password reset, never
        per request."""
        result = tx.execute(
            update(api_tokens)
            .where(
                api_tokens.c.user_id == user_id,
                api_tokens.c.revoked_at_us.is_(None),
                api_tokens.c.expires_at_us > now_us,
            )
            .values(revoked_at_us=now_us)
        )
        return int(result.rowcount or 0)
