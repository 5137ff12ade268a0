"""Typed settings read once at start from environment variables and an optional TOML file."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.hours import parse_quiet

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the bot cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment. Built in bot.py, passed down."""

    telegram_bot_token: str | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    bot_db: Path = PROJECT_ROOT / "data" / "bot.sqlite3"
    bot_timezone: str = "Asia/Shanghai"
    bot_admins: frozenset[str] = field(default_factory=frozenset)
    bot_knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    # What the operator owns (registry offices, service points, teams, villages, imports),
    # layered over the shipped knowledge/ and kept apart from the code (a `git pull` never
    # touches it).
    bot_data_dir: Path = PROJECT_ROOT / "data"
    bot_log_level: str = "INFO"
    telegram_max_rate: float = 30.0
    bot_reply_max_age_hours: int = 24  # a reply not delivered by then is dropped, not sent late
    volunteer_retention_days: int = 730
    feedback_retention_days: int = 180  # questions kept for the knowledge base's review
    reminder_quiet_hours: str = "22:00-08:00"
    reminder_grace_hours: int = 24
    reminder_escalate_days: int = 2
    # One web server carries the webhook routes (/wechat, /telegram) and /healthz.
    bot_http_host: str = "127.0.0.1"
    bot_http_port: int = 8080
    telegram_webhook_url: str | None = None  # the public URL of /telegram: webhook, not polling
    telegram_webhook_secret: str | None = None
    wechat_token: str | None = None  # the WeChat Official Account channel runs when set
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_aes_key: str | None = None  # the EncodingAESKey: safe mode (encrypted messages)
    wechat_aes_key_previous: str | None = None  # accepted too while the key is being changed
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_template_notice: str | None = None  # template id for notices outside the window
    wechat_template_fields: str = "first,keyword1,remark"  # its fields: title, body, remark

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)

    def is_admin(self, channel: str, external_id: str) -> bool:
        """Admins are Telegram ids, or `channel:id` for other channels (e.g. `console:local`)."""
        if channel == "telegram" and external_id in self.bot_admins:
            return True
        return f"{channel}:{external_id}" in self.bot_admins

    def secrets(self) -> list[str]:
        """Values no log line may show."""
        return [v for name in SECRETS if (v := getattr(self, name))]

    def redacted(self) -> dict[str, str]:
        """The settings as text, with the token hidden (logged at start)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRETS:
                value = "(set)" if value else "(not set)"
            elif isinstance(value, frozenset):
                value = ",".join(sorted(value))
            out[f.name.upper()] = str(value)
        return out


SECRETS = ("telegram_bot_token", "telegram_webhook_secret", "wechat_token",
           "wechat_app_secret", "wechat_aes_key", "wechat_aes_key_previous")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _parse(name: str, raw: object) -> object:
    if name == "bot_admins":
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return frozenset(str(i).strip() for i in items if str(i).strip())
    if name in ("bot_db", "bot_knowledge_dir", "bot_data_dir"):
        return Path(str(raw)).expanduser()
    if name == "bot_http_port":
        port = int(raw)  # type: ignore[call-overload]
        if not 0 <= port <= 65535:
            raise ValueError("BOT_HTTP_PORT must be a port number (0 to 65535)")
        return port
    if name == "telegram_webhook_secret" and not _WEBHOOK_SECRET.match(str(raw)):
        raise ValueError("TELEGRAM_WEBHOOK_SECRET: 1 to 256 of A-Z a-z 0-9 _ -")
    if name in ("wechat_aes_key", "wechat_aes_key_previous") and not re.fullmatch(
            r"[A-Za-z0-9+/]{43}", str(raw)):
        raise ValueError(f"{name.upper()} must be the 43-character EncodingAESKey")
    if name == "telegram_max_rate":
        return float(raw)  # type: ignore[arg-type]
    if name in ("volunteer_retention_days", "reminder_grace_hours", "bot_reply_max_age_hours",
                "reminder_escalate_days", "feedback_retention_days"):
        value = int(raw)  # type: ignore[call-overload]
        if value < 1:
            raise ValueError(f"{name.upper()} must be at least 1")
        return value
    return str(raw) if raw is not None else None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings: defaults < TOML file (BOT_CONFIG, or ./bot.toml if present) < environment."""
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    config_path = env.get("BOT_CONFIG") or ("bot.toml" if Path("bot.toml").exists() else None)
    if config_path:
        try:
            data = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {config_path}: {exc}") from exc
        for key, raw in data.items():
            values[key.lower()] = raw
    for f in fields(Settings):
        if f.name.upper() in env and env[f.name.upper()] != "":
            values[f.name] = env[f.name.upper()]
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    try:
        parsed = {k: _parse(k, v) for k, v in values.items()}
        settings = Settings(**parsed)  # type: ignore[arg-type]
        settings.tz  # noqa: B018 - validate the zone now, not at first use
        parse_quiet(settings.reminder_quiet_hours)
        _check_channels(settings)
    except ZoneInfoNotFoundError as exc:
        raise SettingsError(f"unknown time zone: {values.get('bot_timezone')}") from exc
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc)) from exc
    return settings


def _check_channels(settings: Settings) -> None:
    if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
        raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET (anyone could post "
                         "updates otherwise)")
    if settings.telegram_webhook_url and not settings.telegram_webhook_url.startswith("https://"):
        raise ValueError("TELEGRAM_WEBHOOK_URL must be an https:// URL")
    if settings.wechat_token and not (settings.wechat_app_id and settings.wechat_app_secret):
        raise ValueError("WECHAT_TOKEN needs WECHAT_APP_ID and WECHAT_APP_SECRET")
