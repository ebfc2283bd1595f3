"""Settings: environment variables prefixed ``SAFECALL_``, read once at start.

Every value is cast and checked here; a bad one raises :class:`SettingsError`
whose message is one sentence naming the variable and what it expected, so
the server stops before it serves anything.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from safecall.redis_client import check_url

PREFIX = "SAFECALL_"
_PASSWORD_IN_URL = re.compile(r"(//[^/@:]*:)[^@/]*@")
T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    """Address the HTTP server binds to."""
    port: int = 8080
    """Port the HTTP server binds to."""
    public_url: str = "http://127.0.0.1:8080"
    """External base URL (https in production): links and Twilio signatures."""
    var_dir: Path = Path("var")
    """Where the embedded defaults keep their files (database, keys, recordings)."""
    database_url: str = "sqlite+aiosqlite:///var/safecall.db"
    """SQLAlchemy URL: the SQLite file by default, ``postgresql+asyncpg://`` at scale."""
    redis_url: str | None = None
    """Redis for queue state and the cross-node bus (``redis://`` or ``redis+sentinel://``,
    see :mod:`safecall.redis_client`); unset means in-process."""
    routing_file: Path | None = None
    """Routing configuration (TOML); unset means the packaged defaults."""
    districts_file: Path | None = None
    """The districts contacts, cases and officers choose from (TOML); unset means Punjab's."""
    data_key_file: Path = Path("var/data.key")
    """Key for encrypted fields (names, phone numbers, addresses, notes)."""
    audit_key_file: Path = Path("var/audit.key")
    """Ed25519 key that signs the audit chain head; kept out of the database."""
    session_hours: float = 12.0
    """How long an officer's login lasts."""
    call_grace_seconds: float = 30.0
    """How long a side of a call may be away (a lost socket, a dead process) and come back."""
    node_ttl_seconds: float = 10.0
    """A server process silent this long is dead: the others mark its calls' sides away."""
    trust_forwarded: bool = False
    """Take the client address from X-Forwarded-For (only behind your own proxy)."""
    extra_categories: tuple[str, ...] = field(default_factory=tuple)
    """Case categories added to the built-in ones, e.g. ``forced_marriage``."""
    log_level: str = "INFO"
    """Python logging level."""
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    """Pages on these origins may call this server (writes and the signaling WebSocket),
    besides the public URL's own; no other origin is trusted (never the Host header)."""
    stun_urls: tuple[str, ...] = field(default_factory=tuple)
    """STUN servers given to the pages, e.g. ``stun:turn.example.org:3478``."""
    turn_urls: tuple[str, ...] = field(default_factory=tuple)
    """TURN servers given to the pages (UDP, TCP, and TLS on 443), with REST credentials."""
    turn_secret: str | None = None
    """coturn's ``static-auth-secret``: signs the time-limited TURN credentials."""
    twilio_account_sid: str | None = None
    """The Twilio account (``AC…``) the 15 helpline's number belongs to; unset turns the IVR off."""
    twilio_auth_token: str | None = None
    """Twilio's auth token: checks every webhook's signature and signs REST calls."""
    twilio_api_base: str = "https://api.twilio.com"
    """Base URL of Twilio's REST API (tests point it at a local emulator)."""
    twilio_caller_id: str | None = None
    """Neutral number callbacks and SMS come from (never one that names the police)."""
    media_ice_hosts: tuple[str, ...] = field(default_factory=tuple)
    """Addresses the media bridge offers as ICE host candidates (pin the public interface)."""
    recordings_key_file: Path = Path("var/recordings.key")
    """Keys that encrypt recordings at rest; one ``id:base64`` key per line, first is current."""
    evidence_key_file: Path = Path("var/evidence.key")
    """Ed25519 key that signs evidence bundles; publish its public half separately."""
    recording_off_lines: tuple[str, ...] = field(default_factory=tuple)
    """Service lines whose calls are not recorded (phone bridge and console), e.g. ``child``."""
    recordings_store: str = "local"
    """Where sealed chunks live: ``local`` (files under the var dir) or ``database``
    (rows in the shared database, for several nodes)."""
    metrics_token: str | None = None
    """Bearer token a scraper on another host sends for ``/metrics`` (unset: this host only)."""
    header_timeout: float = 10.0
    """Seconds a request's head (request line and headers) may take to arrive."""
    body_timeout: float = 60.0
    """Seconds a request's body may take to arrive once its head is read."""
    keepalive_timeout: float = 75.0
    """Seconds an idle connection stays open between requests."""
    max_connections_per_address: int = 256
    """Connections one address (an IPv6 /64) may hold open at once; 0 for no cap."""
    map_tiles: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    """The console's map tiles: a URL template with ``{z}``, ``{x}`` and ``{y}``."""
    map_attribution: str = "© OpenStreetMap contributors"
    """The words the tile server asks to be shown on its maps."""

    @property
    def map_origin(self) -> str:
        """Where the tiles come from (the console page lets its images come from there)."""
        scheme, _, rest = self.map_tiles.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    places_file: Path | None = None
    """The directory of places (GeoJSON, docs/referrals.md); unset means the Lahore sample."""
    referral_escalate_seconds: float = 120.0
    """An emergency referral nobody acknowledged for this long goes to the supervisors."""
    child_alert_age: int = 12
    """A missing child this old or younger raises an alert to the districts within reach."""
    child_alert_radius_km: float = 0.0
    """Alerts reach the places within this distance of where the child was last seen; 0: the
    district and its neighbouring districts."""
    child_search_days: int = 90
    """A reunited child's record leaves search this many days after the case closed."""
    time_zone: str = "Asia/Karachi"
    """Where her safe times for messages are read (IANA name)."""
    twilio_whatsapp_from: str | None = None
    """The WhatsApp sender (``whatsapp:+1415...``) updates and text contacts use; unset: no
    WhatsApp."""
    twilio_whatsapp_template: str | None = None
    """Content SID (``HX...``) of the approved neutral template for updates sent outside
    WhatsApp's 24-hour window."""

    app_name: str = "Help"
    """The installed app's name under its icon (a disguise, e.g. ``Calculator``, is the
    deployment's choice; see docs/citizen.md)."""
    app_icon: str = "help"
    """The installed app's icon: ``help`` (neutral), ``calculator`` or ``notes``."""
    sms_number: str | None = None
    """Where she can text the centre, shown on the app's offline page (a short code such as
    ``8787`` or an E.164 number); unset: the Twilio sender number, if any."""

    @property
    def sms_fallback(self) -> str | None:
        """The number the offline page tells her to text, or None."""
        return self.sms_number or self.twilio_caller_id

    @property
    def ivr_enabled(self) -> bool:
        """The Twilio webhooks answer only when the account and its token are set."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry Secure when the public URL is https."""
        return self.public_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read, cast and check every ``SAFECALL_`` variable."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        sid_set = bool(env.get(PREFIX + "TWILIO_ACCOUNT_SID", "").strip())
        if sid_set != bool(env.get(PREFIX + "TWILIO_AUTH_TOKEN", "").strip()):
            raise SettingsError(
                f"{PREFIX}TWILIO_ACCOUNT_SID and {PREFIX}TWILIO_AUTH_TOKEN must be set together."
            )
        if (
            env.get(PREFIX + "TURN_URLS", "").strip()
            and not env.get(PREFIX + "TURN_SECRET", "").strip()
        ):
            raise SettingsError(f"{PREFIX}TURN_SECRET must be set when {PREFIX}TURN_URLS is.")
        var_dir = reader.get("VAR_DIR", Path, Path("var"))
        trust_forwarded = reader.get("TRUST_FORWARDED", _boolean, False)
        default_db = f"sqlite+aiosqlite:///{var_dir / 'safecall.db'}"
        return cls(
            host=reader.get("HOST", _host, "127.0.0.1"),
            port=reader.get("PORT", _port, 8080),
            public_url=reader.get("PUBLIC_URL", _base_url, "http://127.0.0.1:8080"),
            var_dir=var_dir,
            database_url=reader.get("DATABASE_URL", _database_url, default_db),
            redis_url=reader.get("REDIS_URL", _redis_url, None),
            routing_file=reader.get("ROUTING_FILE", Path, None),
            districts_file=reader.get("DISTRICTS_FILE", Path, None),
            data_key_file=reader.get("DATA_KEY_FILE", Path, var_dir / "data.key"),
            audit_key_file=reader.get("AUDIT_KEY_FILE", Path, var_dir / "audit.key"),
            session_hours=reader.get("SESSION_HOURS", _positive_hours, 12.0),
            call_grace_seconds=reader.get("CALL_GRACE_SECONDS", _seconds, 30.0),
            node_ttl_seconds=reader.get("NODE_TTL_SECONDS", _seconds, 10.0),
            trust_forwarded=trust_forwarded,
            extra_categories=reader.get("EXTRA_CATEGORIES", _names, ()),
            log_level=reader.get("LOG_LEVEL", _log_level, "INFO"),
            allowed_origins=reader.get("ALLOWED_ORIGINS", _origins, ()),
            stun_urls=reader.get("STUN_URLS", _ice_urls("stun"), ()),
            turn_urls=reader.get("TURN_URLS", _ice_urls("turn"), ()),
            turn_secret=_secret(env, "TURN_SECRET"),
            twilio_account_sid=reader.get("TWILIO_ACCOUNT_SID", _account_sid, None),
            twilio_auth_token=_secret(env, "TWILIO_AUTH_TOKEN"),
            twilio_api_base=reader.get("TWILIO_API_BASE", _base_url, "https://api.twilio.com"),
            twilio_caller_id=reader.get("TWILIO_CALLER_ID", _e164, None),
            media_ice_hosts=reader.get("MEDIA_ICE_HOSTS", _addresses, ()),
            recordings_key_file=reader.get("RECORDINGS_KEY_FILE", Path, var_dir / "recordings.key"),
            evidence_key_file=reader.get("EVIDENCE_KEY_FILE", Path, var_dir / "evidence.key"),
            recording_off_lines=reader.get("RECORDING_OFF_LINES", _names, ()),
            recordings_store=reader.get("RECORDINGS_STORE", _recordings_store, "local"),
            metrics_token=_secret(env, "METRICS_TOKEN"),
            header_timeout=reader.get("HEADER_TIMEOUT", _seconds, 10.0),
            body_timeout=reader.get("BODY_TIMEOUT", _seconds, 60.0),
            keepalive_timeout=reader.get("KEEPALIVE_TIMEOUT", _seconds, 75.0),
            # Behind a proxy every connection is the proxy's: it limits per client there.
            max_connections_per_address=reader.get(
                "MAX_CONNECTIONS_PER_ADDRESS", _count, 0 if trust_forwarded else 256
            ),
            map_tiles=reader.get("MAP_TILES", _tile_template, cls.map_tiles),
            map_attribution=reader.get("MAP_ATTRIBUTION", _attribution, cls.map_attribution),
            places_file=reader.get("PLACES_FILE", Path, None),
            referral_escalate_seconds=reader.get(
                "REFERRAL_ESCALATE_SECONDS", _escalate_seconds, 120.0
            ),
            child_alert_age=reader.get("CHILD_ALERT_AGE", _child_age, 12),
            child_alert_radius_km=reader.get("CHILD_ALERT_RADIUS_KM", _radius_km, 0.0),
            child_search_days=reader.get("CHILD_SEARCH_DAYS", _search_days, 90),
            time_zone=reader.get("TIME_ZONE", _time_zone, "Asia/Karachi"),
            twilio_whatsapp_from=reader.get("TWILIO_WHATSAPP_FROM", _whatsapp, None),
            twilio_whatsapp_template=reader.get("TWILIO_WHATSAPP_TEMPLATE", _content_sid, None),
            app_name=reader.get("APP_NAME", _app_name, "Help"),
            app_icon=reader.get("APP_ICON", _app_icon, "help"),
            sms_number=reader.get("SMS_NUMBER", _sms_number, None),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def get(self, name: str, cast: Callable[[str], T], default: T) -> T:
        raw = self.env.get(PREFIX + name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return cast(raw.strip())
        except ValueError as exc:
            shown = _PASSWORD_IN_URL.sub(r"\1***@", raw)  # a message must not repeat it
            raise SettingsError(f"{PREFIX}{name} must be {exc}, got {shown!r}.") from None


def _host(raw: str) -> str:
    if any(c.isspace() for c in raw) or "/" in raw:
        raise ValueError("a host name or IP address")
    return raw


def _port(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise ValueError("a whole number from 1 to 65535")
    return int(raw)


def _base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError("an http:// or https:// base URL such as https://safecall.example.org")
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ValueError("a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL")
    return raw


def _redis_url(raw: str) -> str:
    return check_url(raw)


def _positive_hours(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 24 * 30:
        raise ValueError("a number of hours above 0 and at most 720")
    return value


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ValueError("a number of seconds above 0 and at most 3600")
    return value


def _count(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 1_000_000:
        raise ValueError("a whole number from 0 to 1000000")
    return int(raw)


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def _names(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    for name in names:
        if not name.replace("_", "").isalnum() or not name.islower() or len(name) > 40:
            raise ValueError("a comma-separated list of lower_case names")
    return names


def _tile_template(raw: str) -> str:
    scheme, _, rest = raw.partition("://")
    host = rest.split("/", 1)[0]
    fine = scheme in ("http", "https") and host and not any(c.isspace() for c in raw)
    if not fine or any(part not in raw for part in ("{z}", "{x}", "{y}")):
        raise ValueError("an http(s) URL template with {z}, {x} and {y}")
    if any(c in host for c in "'\";{}"):
        raise ValueError("an http(s) URL template whose host is a plain host name")
    return raw


def _attribution(raw: str) -> str:
    if len(raw) > 200 or any(ord(c) < 32 for c in raw):
        raise ValueError("one line of at most 200 characters")
    return raw


def _app_name(raw: str) -> str:
    if len(raw) > 30 or any(ord(c) < 32 or c in '<>&"' for c in raw):
        raise ValueError("a name of at most 30 characters, without < > & or quotes")
    return raw


APP_ICONS = ("help", "calculator", "notes")


def _app_icon(raw: str) -> str:
    if raw not in APP_ICONS:
        raise ValueError("one of " + ", ".join(APP_ICONS))
    return raw


def _sms_number(raw: str) -> str:
    digits = raw.removeprefix("+")
    if not (digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 15):
        raise ValueError("a short code or phone number of 3 to 15 digits, e.g. 8787")
    return raw


def _log_level(raw: str) -> str:
    upper = raw.upper()
    if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("one of DEBUG, INFO, WARNING, ERROR")
    return upper


def _origins(raw: str) -> tuple[str, ...]:
    origins = []
    for item in (i.strip() for i in raw.split(",") if i.strip()):
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise ValueError("a comma-separated list of origins such as https://app.example.org")
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


def _ice_urls(kind: str) -> Callable[[str], tuple[str, ...]]:
    def cast(raw: str) -> tuple[str, ...]:
        urls = tuple(u.strip() for u in raw.split(",") if u.strip())
        for url in urls:
            if not url.startswith((f"{kind}:", f"{kind}s:")) or any(c.isspace() for c in url):
                raise ValueError(
                    f"a comma-separated list of {kind}: or {kind}s: URLs "
                    f"such as {kind}:turn.example.org:3478"
                )
        return urls

    return cast


def _secret(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return None
    if len(raw) < 16:  # the message must not repeat the secret
        raise SettingsError(f"{PREFIX}{name} must be at least 16 characters long.")
    return raw


def _account_sid(raw: str) -> str:
    if not (raw.startswith("AC") and len(raw) == 34 and raw[2:].isalnum()):
        raise ValueError("a Twilio account SID: AC followed by 32 letters and digits")
    return raw


def _e164(raw: str) -> str:
    digits = raw[1:]
    if not (raw.startswith("+") and digits.isascii() and digits.isdigit() and 8 <= len(raw) <= 16):
        raise ValueError("a phone number in E.164 form such as +924212345678")
    return raw


def _addresses(raw: str) -> tuple[str, ...]:
    values = tuple(a.strip() for a in raw.split(",") if a.strip())
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("a comma-separated list of IP addresses such as 203.0.113.7") from None
    return values


def _recordings_store(raw: str) -> str:
    if raw not in ("local", "database"):
        raise ValueError("local (files under the var dir) or database (shared by every node)")
    return raw


def _escalate_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 10 <= value <= 3600:
        raise ValueError("a number of seconds from 10 to 3600")
    return value


def _child_age(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 17:
        raise ValueError("an age in years from 0 to 17")
    return int(raw)


def _radius_km(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 500:
        raise ValueError("kilometres from 0 (the neighbouring districts) to 500")
    return value


def _search_days(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 3650:
        raise ValueError("a number of days from 1 to 3650")
    return int(raw)


def _time_zone(raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Asia/Karachi") from None
    return raw


def _whatsapp(raw: str) -> str:
    if not raw.startswith("whatsapp:"):
        raise ValueError("a WhatsApp sender such as whatsapp:+14155238886")
    _e164(raw.removeprefix("whatsapp:"))
    return raw


def _content_sid(raw: str) -> str:
    if not (raw.startswith("HX") and len(raw) == 34 and raw[2:].isalnum()):
        raise ValueError("a Content SID: HX followed by 32 letters and digits")
    return raw
