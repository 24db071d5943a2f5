"""Configuration: environment variables with the prefix JEJAK_ (docs/configuration.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "dev-secret-change-me"
DEFAULT_PII_KEY = "dev-pii-key-change-me"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot run safely."""


def _home() -> Path:
    return Path(os.environ.get("JEJAK_HOME", "var")).resolve()


@dataclass(frozen=True)
class Settings:
    """Everything the three services read from the environment, parsed once."""

    env: str = "development"
    home: Path = field(default_factory=_home)
    database_url: str = ""
    redis_url: str = ""
    smtp_url: str = ""
    secret_key: str = DEFAULT_SECRET
    pii_key: str = DEFAULT_PII_KEY
    quiet_hours: str = "20:00-07:00"
    timezone: str = "Asia/Makassar"
    base_url: str = "http://127.0.0.1:8000"
    mail_from: str = "Jejak <tracer@localhost>"
    sms_url: str = ""
    sms_token: str = ""
    sms_webhook_secret: str = ""
    whatsapp_url: str = ""
    whatsapp_token: str = ""
    whatsapp_app_secret: str = ""
    channel_order: tuple[str, ...] = ("email", "whatsapp", "sms")
    # Rate limits (the `limits` notation: "10 per minute;100 per hour"); empty turns one off.
    rate_limit_login: str = "10 per minute;100 per hour"
    rate_limit_identify: str = "10 per minute;40 per hour"
    rate_limit_intake: str = "20 per minute;200 per hour"
    rate_limit_intake_ip: str = "600 per minute"
    centre_name: str = "UPTD BLKI Bontang"  # the data controller named to alumni (UU PDP)
    centre_contact: str = ""  # how alumni reach it: phone, email or address; shown as typed

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("JEJAK_HOME", "var")).resolve()
        return cls(
            env=env.get("JEJAK_ENV", "development"),
            home=home,
            database_url=env.get("JEJAK_DATABASE_URL") or f"sqlite:///{home / 'jejak.db'}",
            redis_url=env.get("JEJAK_REDIS_URL", ""),
            smtp_url=env.get("JEJAK_SMTP_URL", ""),
            secret_key=env.get("JEJAK_SECRET_KEY", DEFAULT_SECRET),
            pii_key=env.get("JEJAK_PII_KEY", DEFAULT_PII_KEY),
            # Empty means "no quiet hours", so only a missing variable takes the default.
            quiet_hours=env.get("JEJAK_QUIET_HOURS", "20:00-07:00"),
            timezone=env.get("JEJAK_TIMEZONE", "Asia/Makassar"),
            base_url=env.get("JEJAK_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            mail_from=env.get("JEJAK_MAIL_FROM", "Jejak <tracer@localhost>"),
            sms_url=env.get("JEJAK_SMS_URL", ""),
            sms_token=env.get("JEJAK_SMS_TOKEN", ""),
            sms_webhook_secret=env.get("JEJAK_SMS_WEBHOOK_SECRET", ""),
            whatsapp_url=env.get("JEJAK_WHATSAPP_URL", ""),
            whatsapp_token=env.get("JEJAK_WHATSAPP_TOKEN", ""),
            whatsapp_app_secret=env.get("JEJAK_WHATSAPP_APP_SECRET", ""),
            channel_order=tuple(
                name.strip()
                for name in env.get("JEJAK_CHANNEL_ORDER", "email,whatsapp,sms").split(",")
                if name.strip()
            ),
            rate_limit_login=env.get("JEJAK_RATE_LIMIT_LOGIN", cls.rate_limit_login),
            rate_limit_identify=env.get("JEJAK_RATE_LIMIT_IDENTIFY", cls.rate_limit_identify),
            rate_limit_intake=env.get("JEJAK_RATE_LIMIT_INTAKE", cls.rate_limit_intake),
            rate_limit_intake_ip=env.get("JEJAK_RATE_LIMIT_INTAKE_IP", cls.rate_limit_intake_ip),
            centre_name=env.get("JEJAK_CENTRE_NAME") or cls.centre_name,
            centre_contact=env.get("JEJAK_CENTRE_CONTACT", cls.centre_contact),
        )

    def check(self) -> None:
        """Refuse to run production on the secrets that ship in the source."""
        if self.env != "production":
            return
        weak = [
            name
            for name, value, default in (
                ("JEJAK_SECRET_KEY", self.secret_key, DEFAULT_SECRET),
                ("JEJAK_PII_KEY", self.pii_key, DEFAULT_PII_KEY),
            )
            if not value or value == default or len(value) < 16
        ]
        if weak:
            raise ConfigError(
                "JEJAK_ENV=production refuses default or short secrets: " + ", ".join(weak)
            )
        if self.database_url.startswith("sqlite"):
            raise ConfigError("JEJAK_ENV=production needs JEJAK_DATABASE_URL (PostgreSQL)")
        if not self.redis_url:
            raise ConfigError("JEJAK_ENV=production needs JEJAK_REDIS_URL")

    def flask_config(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.secret_key,
            "JEJAK_SETTINGS": self,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.env == "production",
            "SESSION_COOKIE_NAME": "jejak_session",
            # One cookie for all three services: they share one origin behind the gateway.
            "SESSION_COOKIE_PATH": "/",
            "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
            "BABEL_DEFAULT_LOCALE": "id",
            "BABEL_DEFAULT_TIMEZONE": self.timezone,
            "WTF_CSRF_CHECK_DEFAULT": False,
            "WTF_CSRF_TIME_LIMIT": None,
        }
