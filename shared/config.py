"""Configuration: environment variables with the prefix JEJAK_ (docs/configuration.md).

The two keys come from the environment when set there, otherwise from the key file in the
data directory (`$JEJAK_HOME/keys.env`), which the first `jejak` command makes with random
values (`Settings.from_env(make_keys=True)`). No key ships in the source: the development
keys below are what earlier versions ran on, kept only so that tests can show they are
refused, in every mode.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "dev-secret-change-me"
DEFAULT_PII_KEY = "dev-pii-key-change-me"
# Keys anyone can read (this source, .env.example): a session or NIK under them is public.
PUBLISHED_KEYS = frozenset({DEFAULT_SECRET, DEFAULT_PII_KEY, "change-me"})
MIN_KEY_LENGTH = 16
KEY_NAMES = ("JEJAK_SECRET_KEY", "JEJAK_PII_KEY")
KEY_FILE_NAME = "keys.env"
ENVIRONMENTS = ("development", "production")


class ConfigError(RuntimeError):
    """Raised when the configuration cannot run safely."""


def key_file(home: Path) -> Path:
    """Where the keys of the data directory `home` are kept."""
    return home / KEY_FILE_NAME


def read_key_file(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of a key file ({} when there is none); comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:  # another user's file, most likely: say so, not a traceback
        raise ConfigError(f"cannot read the key file {path}: {exc.strerror}; run Jejak as "
                          "the user that owns it") from exc
    keys = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            keys[name.strip()] = value.strip()
    return keys


def ensure_key_file(home: Path) -> dict[str, str]:
    """The keys of `home`, made first when it has none; `home` is made private (0700).

    The file is written whole under a temporary name (0600 from its creation), then
    hard-linked to its real name: a link never replaces an existing file, so of two
    commands starting at once exactly one file wins and both read it. A reader therefore
    never sees half a file.
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    _make_private(home)
    path = key_file(home)
    if path.exists():
        return read_key_file(path)
    text = (
        "# Jejak's keys for this data directory, made by its first command (docs/operations.md)."
        "\n# Keep a copy somewhere safe, apart from the backups: without JEJAK_PII_KEY no"
        "\n# backup can decrypt a NIK, and a new JEJAK_SECRET_KEY voids every link sent.\n"
        + "".join(f"{name}={secrets.token_urlsafe(32)}\n" for name in KEY_NAMES)
    )
    partial = home / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another command made it first
            os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return read_key_file(path)


def _make_private(directory: Path) -> None:
    """0700 for a data directory of ours made by an older version (or a 022 umask)."""
    status = directory.stat()
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        directory.chmod(0o700)


def _key_problem(value: str) -> str | None:
    if not value:
        return "missing or empty"
    if value in PUBLISHED_KEYS:
        return "a published development key"
    if len(value) < MIN_KEY_LENGTH:
        return f"shorter than {MIN_KEY_LENGTH} characters"
    return None


def _home() -> Path:
    return Path(os.environ.get("JEJAK_HOME", "var")).resolve()


def _days(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number of days from the environment, refused clearly when it is not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(
            f"{name} must be a whole number of days, at least {minimum} (not {raw!r})")
    return int(raw)


def _port(env: Mapping[str, str], name: str) -> int:
    """A TCP port from the environment (empty or unset: 0, off), refused when not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigError(f"{name} must be a port number, 1 to 65535 (not {raw!r})")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """Everything the three services read from the environment, parsed once."""

    env: str = "development"
    home: Path = field(default_factory=_home)
    database_url: str = ""
    redis_url: str = ""
    smtp_url: str = ""
    # Where hard bounces come back by mail: imaps://user:password@host:993/INBOX (imap://
    # with STARTTLS, or plain on loopback). Empty: no mailbox is read (outreach.read_bounces).
    bounce_imap_url: str = ""
    # A worker serves its Prometheus metrics on this port; 0 (the default): not served.
    worker_metrics_port: int = 0
    # No default: the environment or the key file gives them (from_env); check() refuses
    # an empty one.
    secret_key: str = ""
    pii_key: str = ""
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
    whatsapp_verify_token: str = ""  # Meta's webhook handshake; never the app secret
    channel_order: tuple[str, ...] = ("email", "whatsapp", "sms")
    # Rate limits (the `limits` notation: "10 per minute;100 per hour"); empty turns one off.
    rate_limit_login: str = "10 per minute;100 per hour"
    rate_limit_identify: str = "10 per minute;40 per hour"
    rate_limit_intake: str = "20 per minute;200 per hour"
    rate_limit_intake_ip: str = "600 per minute"
    # Relayed outbox rows and processed_events older than this are pruned (events.prune).
    event_retention_days: int = 30
    # A staff session unused this long ends (checked on the server): a working day.
    session_idle_hours: float = 9.0
    # Sign-in: after three failures from one address for one name, the next attempt waits
    # this many seconds, doubling with each further failure (shared/auth.py).
    login_slow_seconds: float = 1.0
    # Rejected-rows files, raw exports and backups under home are deleted after this many
    # days (shared/personal_files.py; docs/operations.md, "Personal data on disk").
    personal_files_days: int = 7
    centre_name: str = "UPTD BLKI Bontang"  # the data controller named to alumni (UU PDP)
    centre_contact: str = ""  # how alumni reach it: phone, email or address; shown as typed

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 make_keys: bool = False) -> Settings:
        """Settings from `environ` (default os.environ). A key the environment does not set
        comes from the data directory's key file; `make_keys` makes that file first when
        it is missing (the `jejak` commands do; the processes they start only read it)."""
        env = os.environ if environ is None else environ
        home = Path(env.get("JEJAK_HOME", "var")).resolve()
        stored: dict[str, str] = {}
        if any(name not in env for name in KEY_NAMES):
            stored = ensure_key_file(home) if make_keys else read_key_file(key_file(home))
        return cls(
            env=env.get("JEJAK_ENV", "development"),
            home=home,
            database_url=env.get("JEJAK_DATABASE_URL") or f"sqlite:///{home / 'jejak.db'}",
            redis_url=env.get("JEJAK_REDIS_URL", ""),
            smtp_url=env.get("JEJAK_SMTP_URL", ""),
            bounce_imap_url=env.get("JEJAK_BOUNCE_IMAP_URL", ""),
            worker_metrics_port=_port(env, "JEJAK_WORKER_METRICS_PORT"),
            secret_key=env.get("JEJAK_SECRET_KEY", stored.get("JEJAK_SECRET_KEY", "")),
            pii_key=env.get("JEJAK_PII_KEY", stored.get("JEJAK_PII_KEY", "")),
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
            whatsapp_verify_token=env.get("JEJAK_WHATSAPP_VERIFY_TOKEN", ""),
            channel_order=tuple(
                name.strip()
                for name in env.get("JEJAK_CHANNEL_ORDER", "email,whatsapp,sms").split(",")
                if name.strip()
            ),
            rate_limit_login=env.get("JEJAK_RATE_LIMIT_LOGIN", cls.rate_limit_login),
            rate_limit_identify=env.get("JEJAK_RATE_LIMIT_IDENTIFY", cls.rate_limit_identify),
            rate_limit_intake=env.get("JEJAK_RATE_LIMIT_INTAKE", cls.rate_limit_intake),
            rate_limit_intake_ip=env.get("JEJAK_RATE_LIMIT_INTAKE_IP", cls.rate_limit_intake_ip),
            event_retention_days=_days(env, "JEJAK_EVENT_RETENTION_DAYS", 30, minimum=2),
            session_idle_hours=float(
                env.get("JEJAK_SESSION_IDLE_HOURS") or cls.session_idle_hours),
            login_slow_seconds=float(
                env.get("JEJAK_LOGIN_SLOW_SECONDS") or cls.login_slow_seconds),
            personal_files_days=_days(env, "JEJAK_PERSONAL_FILES_DAYS",
                                      cls.personal_files_days),
            centre_name=env.get("JEJAK_CENTRE_NAME") or cls.centre_name,
            centre_contact=env.get("JEJAK_CENTRE_CONTACT", cls.centre_contact),
        )

    def check(self) -> None:
        """Refuse to run on keys anyone could know, in every mode (the embedded default is
        what centres put on their network), and production on SQLite or without Redis."""
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"JEJAK_ENV must be development or production, not {self.env!r}")
        for name, value in zip(KEY_NAMES, (self.secret_key, self.pii_key), strict=True):
            problem = _key_problem(value)
            if problem:
                raise ConfigError(
                    f"{name} is {problem}. Remove {name} from the environment to use the "
                    f"random key Jejak keeps in {key_file(self.home)} (the first `jejak` "
                    "command makes it), or set it to a random value of at least "
                    f"{MIN_KEY_LENGTH} characters, e.g. the output of: python3 -c "
                    '"import secrets; print(secrets.token_urlsafe(32))"')
        if self.env != "production":
            return
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
