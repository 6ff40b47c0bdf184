"""Configuration from the environment: the same variables in dev, tests, compose and
production. With no DATABASE_URL/REDIS_URL, `dev` and the tests start embedded servers."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    database_url: str | None = None
    redis_url: str | None = None
    home: Path = Path(".concord")
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    db_pool_size: int = 20
    log_level: str = "INFO"
    log_format: str = "json"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Concord <no-reply@concord.invalid>"
    smtp_tls: bool = False
    cursor_page_max: int = 100
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    sms_from: str | None = None
    """A sender (E.164 number, short code or alphanumeric id) or a Messaging Service SID
    (`MG` followed by 32 hex digits), which is then sent as `MessagingServiceSid`."""
    sms_base_url: str = "https://api.twilio.com"
    webhook_url: str | None = None
    webhook_secret: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("CONCORD_HOME", ".concord")).resolve()
        secret = env.get("CONCORD_SECRET_KEY") or _home_secret(home)
        return cls(
            database_url=normalise_database_url(env.get("DATABASE_URL")),
            redis_url=env.get("REDIS_URL") or None,
            home=home,
            public_base_url=env.get("CONCORD_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            secret_key=secret,
            db_pool_size=int(env.get("CONCORD_DB_POOL_SIZE", "20")),
            log_level=env.get("CONCORD_LOG_LEVEL", "INFO").upper(),
            log_format=env.get("CONCORD_LOG_FORMAT", "json"),
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("SMTP_PORT", "8025")),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_from=env.get("SMTP_FROM", "Concord <no-reply@concord.invalid>"),
            smtp_tls=env.get("SMTP_TLS", "false").lower() in ("1", "true", "yes"),
            sms_account_sid=env.get("SMS_ACCOUNT_SID") or None,
            sms_auth_token=env.get("SMS_AUTH_TOKEN") or None,
            sms_from=env.get("SMS_FROM") or None,
            sms_base_url=(env.get("SMS_BASE_URL") or "https://api.twilio.com").rstrip("/"),
            webhook_url=env.get("WEBHOOK_URL") or None,
            webhook_secret=env.get("WEBHOOK_SECRET") or None,
        )


def normalise_database_url(url: str | None) -> str | None:
    """Accept the usual `postgres://` and `postgresql://` spellings; we always speak asyncpg."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def _home_secret(home: Path) -> str:
    """Without CONCORD_SECRET_KEY, keep a random key under the home folder so that signed
    links survive restarts of a development instance. Production sets the variable."""
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
