"""Settings from the environment (``MASHANGYI_*``), validated once at start."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server.core.calendar import WorkCalendar

PREFIX = "MASHANGYI_"


class ConfigError(Exception):
    """Bad configuration; the message is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` hits per ``seconds``; written ``COUNT/SECONDS`` in the environment."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, name: str, raw: str) -> RateLimit:
        try:
            count_s, seconds_s = raw.split("/", 1)
            count, seconds = int(count_s), int(seconds_s)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must look like COUNT/SECONDS, got {raw!r}") from None
        if count < 1 or seconds < 1:
            raise ConfigError(f"{PREFIX}{name} needs a positive count and window, got {raw!r}")
        return cls(count, seconds)


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    public_base_url: str
    secret_key: str
    recordings_dir: Path
    uploads_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    topic_number_prefix: str = "HA"
    max_photo_bytes: int = 5 * 1024 * 1024
    max_photos: int = 3
    max_image_pixels: int = 40_000_000
    max_body_bytes: int = 17 * 1024 * 1024
    rate_limit_device: RateLimit = RateLimit(10, 3600)
    rate_limit_ip: RateLimit = RateLimit(60, 3600)
    rate_limit_login: RateLimit = RateLimit(10, 300)
    trust_forwarded_for: bool = False
    session_hours: int = 12
    log_level: str = "INFO"
    # Supervision (督办): working days per stage, the calendar, reminders.
    deadline_days: Mapping[str, int] = field(default_factory=dict)  # stage -> working days
    warn_days: int = 1
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    reminder_seconds: int = 60
    webhook_url: str | None = None
    webhook_secret: str = ""
    # Similar topics (相似议题) and the cluster view of widespread matters.
    similar_threshold: float = 0.2
    cluster_threshold: float = 0.3
    cluster_min_topics: int = 5
    cluster_min_rooms: int = 3
    cluster_days: int = 30
    # The live room (议事会直播间).
    live_comment_rate: RateLimit = RateLimit(5, 30)  # per identity
    live_action_rate: RateLimit = RateLimit(60, 10)  # every other event, per identity
    live_batch_ms: int = 200  # viewers get comments, tallies and reactions this often
    sensitive_words: tuple[str, ...] = ()
    event_loop: str = "asyncio"  # "uvloop" where it is installed (from_env's default)
    # WebRTC: STUN/TURN servers for the server's peers and the browsers, as the browser's
    # RTCIceServer dicts; and how many others each participant can see and hear.
    ice_servers: tuple[dict[str, Any], ...] = ()
    media_slots: int = 9
    recording_retention_days: int = 365  # purge-recordings' default age
    # Monthly disclosures (月公示): how often the server checks whether last month is
    # published (it publishes it on the 1st, or at start if it missed it); 0 turns it off.
    disclosure_check_seconds: int = 600

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.public_base_url.startswith("https://")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, base_dir: Path | None = None
    ) -> Settings:
        """Read and validate every setting; raise ConfigError naming the first bad one.

        Creates the data, uploads and recordings folders, and on first run a secret
        key file in the data dir when ``MASHANGYI_SECRET_KEY`` is unset.
        """
        env = os.environ if env is None else env
        base = base_dir or Path.cwd()

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(PREFIX + name)
            return default if value is None or value.strip() == "" else value.strip()

        def get_int(name: str, default: int, lo: int, hi: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
            if not lo <= value <= hi:
                raise ConfigError(f"{PREFIX}{name} must be between {lo} and {hi}, got {value}")
            return value

        def get_bool(name: str, default: bool) -> bool:
            raw = get(name)
            if raw is None:
                return default
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ConfigError(f"{PREFIX}{name} must be true or false, got {raw!r}")

        def get_path(name: str, default: Path) -> Path:
            raw = get(name)
            path = Path(raw) if raw else default
            return path if path.is_absolute() else base / path

        def get_float(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{PREFIX}{name} must be a number, got {raw!r}") from None
            if not 0 < value <= 1:
                raise ConfigError(f"{PREFIX}{name} must be above 0 and at most 1, got {value}")
            return value

        data_dir = get_path("DATA_DIR", Path("var"))
        recordings_dir = get_path("RECORDINGS_DIR", Path("recordings"))
        uploads_dir = get_path("UPLOADS_DIR", data_dir / "uploads")
        for name, folder in (
            ("DATA_DIR", data_dir),
            ("RECORDINGS_DIR", recordings_dir),
            ("UPLOADS_DIR", uploads_dir),
        ):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"{PREFIX}{name}: cannot create {folder}: {exc.strerror}"
                ) from None

        database_url = get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'mashangyi.db'}"
        database_url = _normalise_database_url(database_url)

        redis_url = get("REDIS_URL")
        if redis_url is not None and urlsplit(redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError(f"{PREFIX}REDIS_URL must be a redis:// URL, got {redis_url!r}")

        port = get_int("PORT", 8080, 1, 65535)
        host = get("HOST", "127.0.0.1") or "127.0.0.1"
        public_base_url = (get("PUBLIC_BASE_URL") or f"http://{host}:{port}").rstrip("/")
        parts = urlsplit(public_base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(
                f"{PREFIX}PUBLIC_BASE_URL must be an absolute http(s) URL, got {public_base_url!r}"
            )

        prefix = get("TOPIC_PREFIX", "HA") or "HA"
        if not (
            prefix.isascii() and prefix.isalpha() and prefix.isupper() and 1 <= len(prefix) <= 6
        ):
            raise ConfigError(f"{PREFIX}TOPIC_PREFIX must be 1-6 capital letters, got {prefix!r}")

        log_level = (get("LOG_LEVEL", "INFO") or "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

        max_photo_bytes = get_int("MAX_PHOTO_BYTES", 5 * 1024 * 1024, 64 * 1024, 50 * 1024 * 1024)
        max_photos = get_int("MAX_PHOTOS", 3, 0, 10)

        webhook_url = get("WEBHOOK_URL")
        if webhook_url is not None:
            hook = urlsplit(webhook_url)
            if hook.scheme not in {"http", "https"} or not hook.netloc:
                raise ConfigError(
                    f"{PREFIX}WEBHOOK_URL must be an absolute http(s) URL, got {webhook_url!r}"
                )

        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            public_base_url=public_base_url,
            secret_key=get("SECRET_KEY") or _load_or_create_secret(data_dir),
            recordings_dir=recordings_dir,
            uploads_dir=uploads_dir,
            host=host,
            port=port,
            topic_number_prefix=prefix,
            max_photo_bytes=max_photo_bytes,
            max_photos=max_photos,
            max_image_pixels=get_int("MAX_IMAGE_PIXELS", 40_000_000, 1_000_000, 200_000_000),
            max_body_bytes=max_photos * max_photo_bytes + 1024 * 1024,
            rate_limit_device=RateLimit.parse(
                "RATE_LIMIT_DEVICE", get("RATE_LIMIT_DEVICE", "10/3600") or ""
            ),
            rate_limit_ip=RateLimit.parse("RATE_LIMIT_IP", get("RATE_LIMIT_IP", "60/3600") or ""),
            rate_limit_login=RateLimit.parse(
                "RATE_LIMIT_LOGIN", get("RATE_LIMIT_LOGIN", "10/300") or ""
            ),
            trust_forwarded_for=get_bool("TRUST_FORWARDED_FOR", False),
            session_hours=get_int("SESSION_HOURS", 12, 1, 24 * 30),
            log_level=log_level,
            deadline_days=_deadline_days(get("DEADLINE_DAYS", "") or ""),
            warn_days=get_int("WARN_DAYS", 1, 0, 30),
            calendar=_calendar(get("HOLIDAYS", "") or "", get("WORKDAYS", "") or ""),
            reminder_seconds=get_int("REMINDER_SECONDS", 60, 0, 86_400),
            webhook_url=webhook_url,
            webhook_secret=get("WEBHOOK_SECRET", "") or "",
            similar_threshold=get_float("SIMILAR_THRESHOLD", 0.2),
            cluster_threshold=get_float("CLUSTER_THRESHOLD", 0.3),
            cluster_min_topics=get_int("CLUSTER_MIN_TOPICS", 5, 2, 1000),
            cluster_min_rooms=get_int("CLUSTER_MIN_ROOMS", 3, 1, 1000),
            cluster_days=get_int("CLUSTER_DAYS", 30, 1, 366),
            live_comment_rate=RateLimit.parse(
                "LIVE_COMMENT_RATE", get("LIVE_COMMENT_RATE", "5/30") or ""
            ),
            live_action_rate=RateLimit.parse(
                "LIVE_ACTION_RATE", get("LIVE_ACTION_RATE", "60/10") or ""
            ),
            live_batch_ms=get_int("LIVE_BATCH_MS", 200, 20, 5000),
            sensitive_words=_sensitive_words(get("SENSITIVE_WORDS_FILE")),
            event_loop=_event_loop(get("EVENT_LOOP")),
            ice_servers=_ice_servers(get("ICE_SERVERS")),
            media_slots=get_int("MEDIA_SLOTS", 9, 1, 16),
            recording_retention_days=get_int("RECORDING_RETENTION_DAYS", 365, 1, 36500),
            disclosure_check_seconds=get_int("DISCLOSURE_CHECK_SECONDS", 600, 0, 86_400),
        )


def _event_loop(value: str | None) -> str:
    """MASHANGYI_EVENT_LOOP: uvloop (the default where it is installed) or asyncio."""
    if value is None:
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    if value not in {"uvloop", "asyncio"}:
        raise ConfigError(f"{PREFIX}EVENT_LOOP must be uvloop or asyncio, got {value!r}")
    if value == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigError(f"{PREFIX}EVENT_LOOP=uvloop but uvloop is not installed")
    return value


def _ice_servers(value: str | None) -> tuple[dict[str, Any], ...]:
    """MASHANGYI_ICE_SERVERS: a JSON list of RTCIceServer objects, e.g.
    ``[{"urls": "stun:stun.example.cn:3478"}, {"urls": ["turn:turn.example.cn:3478"],
    "username": "u", "credential": "p"}]``."""
    if not value:
        return ()
    name = f"{PREFIX}ICE_SERVERS"
    try:
        servers = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} must be a JSON list of ICE servers: {exc.msg}") from None
    if not isinstance(servers, list):
        raise ConfigError(f"{name} must be a JSON list of ICE servers")
    out = []
    for server in servers:
        urls = server.get("urls") if isinstance(server, dict) else None
        urls = [urls] if isinstance(urls, str) else urls
        if (
            not isinstance(urls, list)
            or not urls
            or not all(
                isinstance(u, str) and u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns")
                for u in urls
            )
        ):
            raise ConfigError(f"{name}: each server needs urls starting stun: or turn:")
        entry: dict[str, Any] = {"urls": urls}
        for key in ("username", "credential"):
            if key in server:
                if not isinstance(server[key], str):
                    raise ConfigError(f"{name}: {key} must be a string")
                entry[key] = server[key]
        if any(u.startswith("turn") for u in urls) and "credential" not in entry:
            raise ConfigError(f"{name}: a TURN server needs a username and credential")
        out.append(entry)
    return tuple(out)


# The sensitive-word list shipped with the server: one word per line, # for comments.
DEFAULT_SENSITIVE_WORDS = Path(__file__).resolve().parent / "deliberations" / "sensitive_words.txt"


def _sensitive_words(path: str | None) -> tuple[str, ...]:
    """The comment filter's words (MASHANGYI_SENSITIVE_WORDS_FILE, or the shipped list)."""
    source = Path(path) if path else DEFAULT_SENSITIVE_WORDS
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"{PREFIX}SENSITIVE_WORDS_FILE: cannot read {source}: {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{PREFIX}SENSITIVE_WORDS_FILE: {source} is not UTF-8") from None
    words = (line.split("#", 1)[0].strip() for line in lines)
    return tuple(w for w in words if w)


def _deadline_days(raw: str) -> dict[str, int]:
    """``accept=1,contact=3,resolve_individual=15,resolve_escalated=30``: working days per
    stage. The stage names are checked against the policy when the app starts."""
    days = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = item.partition("=")
        value = value.strip()
        if not sep or not value.isdigit() or not 1 <= int(value) <= 365:
            raise ConfigError(
                f"{PREFIX}DEADLINE_DAYS: {item!r} must be stage=days, days from 1 to 365"
            )
        days[name.strip()] = int(value)
    return days


def _calendar(holidays: str, workdays: str) -> WorkCalendar:
    """Comma-separated ISO dates: the public holidays, and the weekend days worked (调休)."""
    try:
        return WorkCalendar.parse(
            [d.strip() for d in holidays.split(",") if d.strip()],
            [d.strip() for d in workdays.split(",") if d.strip()],
        )
    except ValueError as exc:
        raise ConfigError(
            f"{PREFIX}HOLIDAYS/WORKDAYS must be ISO dates (2026-10-01): {exc}"
        ) from None


def _normalise_database_url(url: str) -> str:
    """Accept the plain scheme people type and pick the async driver for it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"{PREFIX}DATABASE_URL must be a URL like postgresql://..., got {url!r}")
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
    }
    if scheme not in drivers:
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must use sqlite or postgresql, got scheme {scheme!r}"
        )
    return f"{drivers[scheme]}://{rest}"


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ConfigError(f"{path} holds a secret shorter than 32 characters; delete it")
        return secret
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret
