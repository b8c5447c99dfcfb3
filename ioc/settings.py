"""Settings for the IOC platform.

Every knob comes from the environment. The defaults give the embedded mode (SQLite under
``var/``, in-process Celery tasks, in-memory channel layer); setting ``DATABASE_URL`` and
``REDIS_URL`` gives the production mode (PostgreSQL, Redis broker and channel layer, real
workers). No code path differs between modes except this file and the launcher.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("IOC_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """The secret key from the environment, else one generated once and kept under var/."""
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# The embedded mode: no external services at all. Decided once, here.
EMBEDDED = not REDIS_URL

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Accounts: lockout after failed logins, a second factor (TOTP, recovery codes).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "ioc.apps.IocConfig",
    "cameras.apps.CamerasConfig",
    "services.apps.ServicesConfig",
    "dashboards.apps.DashboardsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A NUL character in an API path or query: 400 before any view (ioc/middleware.py).
    "ioc.middleware.NulCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ioc.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(); then the second-factor gate of /ops/, /admin/ and /api/.
    "django_otp.middleware.OTPMiddleware",
    "ioc.two_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "ioc.middleware.RequestContextMiddleware",
    # A database outage in a view: 503 with Retry-After, not a 500 (ioc/errors.py).
    "ioc.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ioc.urls"
WSGI_APPLICATION = "ioc.wsgi.application"
ASGI_APPLICATION = "ioc.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ioc.context_processors.platform",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "ioc.sqlite3"),
            "OPTIONS": {
                # WAL lets the map read while a feed writes; IMMEDIATE avoids lock upgrades
                # failing with "database is locked" under concurrent writers.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer, Celery ------------------------------------------------------------
if REDIS_URL:
    CACHES: dict[str, dict[str, object]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ioc",
            # Redis away must cost a request a moment, not a TCP timeout: its readers on
            # request paths (rate limits, live seq, ward index) then go on without it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer delivers ~6x more group messages per second than the
            # list-based core layer on this hardware (shared/PERFORMANCE.md).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Separate prefixes let two deployments (or two test runs) share one Redis.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("IOC_CHANNEL_PREFIX", "ioc")},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            # Live sequence counters live here: never cull them to make room.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Each process sends at most one live message per group this often; what arrives meanwhile
# leaves together as one ``batch`` message: one group_send per event cannot keep up with
# thousands of events a second (shared/PERFORMANCE.md). 0 sends each event at once (the
# embedded in-memory layer).
IOC_LIVE_BATCH_SECONDS = (
    float(os.environ.get("IOC_LIVE_BATCH_MS", "50" if REDIS_URL else "0")) / 1000
)

# Embedded: no broker (tasks run eagerly); the in-process beat still opens kombu's memory
# transport, which warns at each start when its address names no host.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = EMBEDDED
CELERY_TASK_EAGER_PROPAGATES = EMBEDDED
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes the database connection around every task unless told to reuse it; ioc/celery.py
# applies CONN_MAX_AGE and the health check at task boundaries instead, as for requests.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_TASK_DEFAULT_QUEUE = "default"
# Ingest floods must never delay a traffic-signal command: separate queues.
CELERY_TASK_ROUTES = {
    "cameras.tasks.ingest_*": {"queue": "ingest"},
    "cameras.tasks.signal_*": {"queue": "commands"},
}
# A redelivered task (worker killed) must come back in minutes, not Redis' default hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("IOC_VISIBILITY_TIMEOUT", "300"))
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "Asia/Ho_Chi_Minh"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "realtime-heartbeat": {
        "task": "ioc.tasks.realtime_heartbeat_task",
        "schedule": timedelta(seconds=float(os.environ.get("IOC_HEARTBEAT_SECONDS", "15"))),
    },
    "ingest-sweep": {
        "task": "cameras.tasks.ingest_sweep_task",
        "schedule": timedelta(seconds=float(os.environ.get("IOC_INGEST_SWEEP_SECONDS", "10"))),
    },
    "devices-offline-sweep": {
        "task": "cameras.tasks.devices_offline_sweep_task",
        "schedule": timedelta(seconds=20),
    },
    # Time-limited traffic-signal overrides return to automatic when due.
    "signal-commands-expire": {
        "task": "cameras.tasks.signal_commands_expire_task",
        "schedule": timedelta(seconds=15),
    },
    "cameras-poll": {
        "task": "cameras.tasks.cameras_poll_task",
        "schedule": timedelta(seconds=float(os.environ.get("IOC_CAMERA_POLL_SECONDS", "60"))),
    },
    "signals-poll": {
        "task": "cameras.tasks.signals_poll_task",
        "schedule": timedelta(seconds=float(os.environ.get("IOC_SIGNAL_POLL_SECONDS", "30"))),
    },
    # Citizen requests near or past their deadline: alert the unit, escalate.
    "requests-deadline-sweep": {
        "task": "services.tasks.requests_deadline_sweep_task",
        "schedule": timedelta(minutes=5),
    },
    # Reorganisations of units scheduled for today take effect at midnight, Vietnam time
    # (CELERY_TIMEZONE), and every five minutes after it the task looks again: a platform
    # that was down at midnight (the embedded beat keeps no schedule file) applies them as
    # soon as it is back. A reorganisation is applied once, so looking again costs a query.
    "reorganisations-due": {
        "task": "ioc.tasks.reorganisations_due_task",
        "schedule": crontab(minute="*/5"),
    },
    # Retention (Law 91/2025/QH15): contact details due for erasure, camera snapshots no
    # camera keeps, audit rows past their time (exported first). Daily work, looked for
    # every hour: the embedded beat keeps no schedule file, so a box that is off at a fixed
    # hour would never run it; a run with nothing due costs an indexed query each.
    "privacy-retention": {
        "task": "services.tasks.privacy_retention_task",
        "schedule": crontab(minute=20),
    },
    "audit-retention": {
        "task": "ioc.tasks.audit_prune_task",
        "schedule": crontab(minute=40),
    },
    # Readings rolled up per minute and hour, late ones included (cameras.services.history).
    # Every minute with workers; every five in the embedded server, where a pass costs the
    # one process 2-3.5 % of a core at the demo's rate (bench/embedded.py): charts read raw
    # readings after the rollups' mark, so a later pass changes no chart.
    "rollups-compute": {
        "task": "cameras.tasks.rollups_compute_task",
        "schedule": timedelta(
            seconds=float(os.environ.get("IOC_ROLLUP_SECONDS", "60" if REDIS_URL else "300"))
        ),
    },
    # The history's partitions a week ahead (PostgreSQL; also after migrate), then what is
    # past its retention, at night in Vietnam time.
    "partitions-ensure": {
        "task": "cameras.tasks.partitions_ensure_task",
        "schedule": crontab(hour=1, minute=10),
    },
    "history-retain": {
        "task": "cameras.tasks.history_retain_task",
        "schedule": crontab(hour=1, minute=40),
    },
}

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "ioc.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ops-home"
LOGOUT_REDIRECT_URL = "portal-home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SESSION_COOKIE_HTTPONLY = True
# A staff session lasts a working day, not Django's two weeks.
SESSION_COOKIE_AGE = int(float(os.environ.get("IOC_SESSION_HOURS", "10")) * 3600)
# A second factor (TOTP) for every account that can change devices, accounts or traffic
# signals (ioc.two_factor.two_factor_required); others may enrol. Only the demo's logins
# are exempt (their password is public anyway). Turning it off is for a closed test bench.
IOC_REQUIRE_2FA = env_bool("IOC_REQUIRE_2FA", True)
OTP_TOTP_ISSUER = os.environ.get("IOC_OTP_ISSUER", "IOC")
# Failed logins: this many in a row lock the account, and separately the client address,
# for IOC_LOCKOUT_MINUTES (ioc.middleware.request_address gives the address). The counts
# live in the database, shared by every web process (SQLite and PostgreSQL alike).
AXES_FAILURE_LIMIT = int(os.environ.get("IOC_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("IOC_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "ioc.middleware.request_address"
# The lockout page: how long, whom to contact (Vietnamese first, like every page).
AXES_LOCKOUT_CALLABLE = "ioc.account_views.locked_out"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Failed logins go to the audit log (ioc/signals.py); axes' own INFO lines would repeat them.
AXES_VERBOSE = False
# Whom a locked-out person should call (shown on the lockout page); empty: the sentence
# names the operations centre's administrator.
IOC_ACCOUNTS_CONTACT = os.environ.get("IOC_ACCOUNTS_CONTACT", "")
# --- HTTPS ------------------------------------------------------------------------------------
# DJANGO_HTTPS=true: the site is served over HTTPS by the reverse proxy in front of it, which
# says so in X-Forwarded-Proto (deploy/nginx.conf sets it, overwriting what a client sent).
# Plain http is then redirected, browsers keep to https for a year (HSTS, subdomains too)
# and cookies travel only over https. Off by default: the embedded mode is plain http on
# 127.0.0.1.
IOC_HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = IOC_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if IOC_HTTPS else None
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000")) if IOC_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = IOC_HTTPS
# The preload directive only consents to the browsers' preload list; enrolling the domain
# is a separate submission by its owner.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", IOC_HTTPS)
# The process manager's health check asks gunicorn itself, in plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", IOC_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
IOC_DEMO_PASSWORD = os.environ.get("IOC_DEMO_PASSWORD", "ioc-demo-2026")

# --- Language, time ---------------------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "ioc_language"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Ho_Chi_Minh"
# dd/mm/yyyy in both languages: our own format modules override Django's locale defaults.
FORMAT_MODULE_PATH = ["ioc.formats"]

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("IOC_STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("IOC_MEDIA_ROOT", VAR_DIR / "media"))
# Leaflet comes from the django-leaflet package (pinned in pyproject.toml). Its app is not
# installed: its admin module imports GeoDjango, which needs the GDAL system library that
# this platform deliberately does without (DESIGN.md, "Geography without GeoDjango").
STATICFILES_DIRS = [Path(importlib.util.find_spec("leaflet").origin).parent / "static"]  # type: ignore[arg-type, union-attr]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Hashed, compressed files once ``collectstatic`` has run with IOC_STATIC_MANIFEST=1
# (production: `make serve`, the Dockerfile); straight from the apps otherwise (embedded
# mode, tests), so that ``make run`` needs no build step.
STATIC_COLLECTED = (
    env_bool("IOC_STATIC_MANIFEST", False) or (STATIC_ROOT / "staticfiles.json").exists()
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_COLLECTED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Serve files straight from the apps when collectstatic has not run (embedded mode).
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
WHITENOISE_AUTOREFRESH = DEBUG
# WhiteNoise hands Django's ASGI handler a synchronous file iterator; Django serves it
# correctly and warns on every file. Production puts a reverse proxy in front of /static/.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous")

# --- Map --------------------------------------------------------------------------------------
# A self-hosted tile server in production; empty disables the base map entirely. Markers
# and ward boundaries draw without tiles either way.
IOC_TILE_URL = os.environ.get("IOC_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
# Shown as text (not HTML) in the map corner.
IOC_TILE_ATTRIBUTION = os.environ.get("IOC_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
# The province the installation serves (its code in the official list: 19 is Thái Nguyên,
# the demo's): `manage.py load_province` loads its units, and page headers carry its name
# unless IOC_CITY_NAME says otherwise (ioc.provinces.installation_name).
IOC_PROVINCE = os.environ.get("IOC_PROVINCE", "19")
IOC_CITY_NAME = os.environ.get("IOC_CITY_NAME", "")
# Up to this many visible devices, /ops/ and the websocket snapshot carry every device and
# the map draws them at once; above it they carry counts only and the map loads what the
# viewport shows (aggregated into grid cells when a view holds more than IOC_MAP_POINT_LIMIT).
IOC_MAP_EMBED_LIMIT = int(os.environ.get("IOC_MAP_EMBED_LIMIT", "2000"))
IOC_MAP_POINT_LIMIT = int(os.environ.get("IOC_MAP_POINT_LIMIT", "3000"))

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ioc.permissions.IsStaffRole"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # LimitOffsetPagination whose limit and offset are checked (400), not ignored.
    "DEFAULT_PAGINATION_CLASS": "ioc.api.pagination.ApiPagination",
    "PAGE_SIZE": 100,
}
# --- Citizen services ---------------------------------------------------------------------
# Office hours of a working day (deadlines count working hours), in the city's time zone.
IOC_OFFICE_HOURS = os.environ.get("IOC_OFFICE_HOURS", "07:30-11:30,13:30-17:00")
# How the public reaches the portal: links in the emails sent to reporters.
IOC_PUBLIC_URL = os.environ.get("IOC_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Warn (and alert the unit) when an open request has less than this share of its time left.
IOC_DEADLINE_WARNING_SHARE = float(os.environ.get("IOC_DEADLINE_WARNING_SHARE", "0.2"))
# Open311: requests a minute one API key may file (0 = unlimited), and what discovery says
# of whom to contact and how to get a key (empty: a sentence naming the city).
IOC_OPEN311_POSTS_PER_MINUTE = int(os.environ.get("IOC_OPEN311_POSTS_PER_MINUTE", "30"))
IOC_OPEN311_CONTACT = os.environ.get("IOC_OPEN311_CONTACT", "")
IOC_OPEN311_KEY_SERVICE = os.environ.get("IOC_OPEN311_KEY_SERVICE", "")

SPECTACULAR_SETTINGS = {
    "TITLE": "IOC platform API",
    "DESCRIPTION": "Registry, ingest and citizen-service API of the city operations centre.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # What devices and gateways authenticate with at POST /api/v1/ingest/events.
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ingestToken": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Device <token>` or `Gateway <token>`",
            }
        }
    },
    # Every operation's error answers (400, 403, 404, 503) are declared once: ioc/api/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ioc.api.schema.error_responses",
    ],
    # Several models name a field "kind" or "status" with different choices.
    "ENUM_NAME_OVERRIDES": {
        "DeviceKindEnum": "cameras.choices.DeviceKind",
        "DeviceStatusEnum": "cameras.choices.DeviceStatus",
        "WardKindEnum": "ioc.choices.WardKind",
        "CommandStatusEnum": "cameras.choices.CommandStatus",
        "AlertStatusEnum": "ioc.choices.AlertStatus",
        "IncidentStatusEnum": "ioc.choices.IncidentStatus",
    },
}

# --- Ingest -----------------------------------------------------------------------------------
# Requests per second one device or gateway token may make (0 = unlimited).
IOC_INGEST_REQUESTS_PER_SECOND = int(os.environ.get("IOC_INGEST_REQUESTS_PER_SECOND", "20"))
# An accepted batch not processed this long after it was queued is queued again (the
# broker lost it, or its worker died).
IOC_INGEST_STALE_SECONDS = float(os.environ.get("IOC_INGEST_STALE_SECONDS", "30"))
# A batch whose processing was started this many times without finishing (a worker killed
# by it, a database error each time) is set aside as IngestFailure rows for an
# administrator to replay, instead of being queued again for ever.
IOC_INGEST_MAX_ATTEMPTS = int(os.environ.get("IOC_INGEST_MAX_ATTEMPTS", "5"))
# How far ahead of the server a device's clock may be; events further in the future are
# refused (400), since they would freeze the device's latest state until that time.
IOC_INGEST_MAX_FUTURE_SECONDS = float(os.environ.get("IOC_INGEST_MAX_FUTURE_SECONDS", "300"))
# The embedded server (`make run`) processes accepted batches in-process, together
# (ioc.inprocess): the batches accepted while a run goes on are processed by the next, in as
# few transactions as they fit. A run starts this long after the first batch it takes; 0
# (measured: the same CPU as 20 ms, 10-20 ms sooner on screen) starts at once. Workers
# elsewhere take several pending batches to a transaction anyway.
IOC_INGEST_GATHER_SECONDS = float(os.environ.get("IOC_INGEST_GATHER_MS", "0")) / 1000
# A Celery worker starts on a batch this long after it was accepted, and takes with it the
# batches accepted meanwhile (up to 16 to a transaction): a transaction costs a worker
# about 15 ms of CPU whatever it holds, and under load one batch each doubled its CPU per
# event (bench/ingest.py). A batch that waited longer in the queue starts at once.
IOC_INGEST_WORKER_GATHER_SECONDS = (
    float(os.environ.get("IOC_INGEST_WORKER_GATHER_MS", "100")) / 1000
)
# --- History: how long readings and device events are kept -----------------------------
# Raw readings and device events, in city days; readings go only once rolled up.
IOC_RAW_RETENTION_DAYS = int(os.environ.get("IOC_RAW_RETENTION_DAYS", "90"))
# Hour rollups (count, min, max, mean, last per device and metric): five years.
IOC_ROLLUP_RETENTION_DAYS = int(os.environ.get("IOC_ROLLUP_RETENTION_DAYS", "1826"))
# Minute rollups: at the sensors' rates a minute holds about one reading, so minutes cost
# about what raw readings cost; kept as long as raw by default, hours beyond.
IOC_ROLLUP_MINUTE_RETENTION_DAYS = int(
    os.environ.get("IOC_ROLLUP_MINUTE_RETENTION_DAYS", str(IOC_RAW_RETENTION_DAYS))
)
# Readings are rolled up to the end of the last complete minute less this lag; one written
# later with an earlier time is late, and its hour is rolled up again.
IOC_ROLLUP_LAG_SECONDS = float(os.environ.get("IOC_ROLLUP_LAG_SECONDS", "30"))
# PostgreSQL: days of partitions created ahead of need.
IOC_PARTITIONS_AHEAD_DAYS = int(os.environ.get("IOC_PARTITIONS_AHEAD_DAYS", "7"))
# A 5 MB batch must reach the ingest view's own size check (Django's default is 2.5 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

# The public portal: feedback filings one client address may make per hour (0 = no limit),
# and the largest filing accepted (three photos of up to 8 MB plus the form).
IOC_PORTAL_FILINGS_PER_HOUR = int(os.environ.get("IOC_PORTAL_FILINGS_PER_HOUR", "10"))
IOC_PORTAL_MAX_UPLOAD_BYTES = int(
    os.environ.get("IOC_PORTAL_MAX_UPLOAD_BYTES", str(26 * 1024 * 1024))
)
# Wrong reporter keys (private links) and ratings or disputes without one that one client
# address may present per hour before it is refused with 429 (0 = no limit).
IOC_PORTAL_KEY_FAILURES_PER_HOUR = int(os.environ.get("IOC_PORTAL_KEY_FAILURES_PER_HOUR", "20"))

# --- Personal data and records over time (Law 91/2025/QH15, Decree 356/2025) ------------------
# A reporter's name, phone, e-mail and private-link key are erased this many days after
# their request ended (closed, rejected, or resolved and not disputed; a merged duplicate
# when the request it joined ends). 180 days: the Law on Complaints (2011, art. 9) gives a
# citizen 90 days from a decision to complain about it, and staff may need to reach the
# reporter in that time; twice that covers a late dispute and a reopened case, and no
# longer: the contact serves only to answer this request. 0: erased at the next hourly run
# after the request ends.
IOC_CONTACT_RETENTION_DAYS = int(os.environ.get("IOC_CONTACT_RETENTION_DAYS", "180"))
# The audit log is kept this many days (5 years by default; 0 = for ever). Whole months
# only: a month is exported (gzip JSON Lines, one file per month, 0600, fsynced and read
# back) to IOC_AUDIT_EXPORT_DIR before any of its rows is deleted, and the deletion is
# itself audited.
IOC_AUDIT_RETENTION_DAYS = int(os.environ.get("IOC_AUDIT_RETENTION_DAYS", "1826"))
IOC_AUDIT_EXPORT_DIR = Path(os.environ.get("IOC_AUDIT_EXPORT_DIR", VAR_DIR / "audit-export"))
# Camera snapshots: each camera's latest is kept (overwritten at every poll); any other file
# in the snapshots folder (a deleted or renamed camera's, an interrupted write) is removed
# once it is this many days old.
IOC_SNAPSHOT_RETENTION_DAYS = int(os.environ.get("IOC_SNAPSHOT_RETENTION_DAYS", "30"))

# Where `manage.py simulate` serves the demo cameras' snapshots and the controllers' API.
IOC_SIMULATOR_URL = os.environ.get("IOC_SIMULATOR_URL", "http://127.0.0.1:8100")
# The port of the simulator's RTSP server (on 127.0.0.1): the demo cameras' live streams,
# rtsp://127.0.0.1:<port>/cameras/<code>/main|sub, and the latency bench's /bench/clock.
IOC_SIMULATOR_RTSP_PORT = int(os.environ.get("IOC_SIMULATOR_RTSP_PORT", "8554"))
# The FFmpeg executable (a path or a name on PATH); empty: `ffmpeg` on PATH, else the one
# bundled with the imageio-ffmpeg package (cameras.video.ffmpeg.ffmpeg_path).
IOC_FFMPEG = os.environ.get("IOC_FFMPEG", "")
# The only networks the server sends requests to devices in (health, snapshots, the
# snapshot proxy, signal controllers), checked when a URL is saved and again on the
# address each request connects to. Default: loopback and the private ranges (RFC 1918,
# IPv6 unique local), where a city's device network and the demo simulator live.
IOC_DEVICE_NETWORKS = env_list(
    "IOC_DEVICE_NETWORKS", "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
)
# The MQTT broker `manage.py ingest_mqtt` reads (TLS: a CA file turns it on; a client
# certificate and key authenticate the bridge to the broker).
IOC_MQTT_HOST = os.environ.get("IOC_MQTT_HOST", "127.0.0.1")
IOC_MQTT_PORT = int(os.environ.get("IOC_MQTT_PORT", "1883"))
IOC_MQTT_USERNAME = os.environ.get("IOC_MQTT_USERNAME", "")
IOC_MQTT_PASSWORD = os.environ.get("IOC_MQTT_PASSWORD", "")
IOC_MQTT_TLS = env_bool("IOC_MQTT_TLS", False)
IOC_MQTT_CA_FILE = os.environ.get("IOC_MQTT_CA_FILE", "")
IOC_MQTT_CERT_FILE = os.environ.get("IOC_MQTT_CERT_FILE", "")
IOC_MQTT_KEY_FILE = os.environ.get("IOC_MQTT_KEY_FILE", "")
# The port of the websocket server when it is not the page's own (`make serve` runs HTTP
# on gunicorn and websockets on uvicorn; behind the reverse proxy both share one port).
IOC_WS_PORT = os.environ.get("IOC_WS_PORT", "")

# --- Live video -------------------------------------------------------------------------------
# Stream addresses are short-lived RS256 JWTs (cameras/video/tokens.py) that the relay, or
# MediaMTX with `authMethod: jwt`, checks against the keys published at
# /.well-known/jwks.json. The private key: PEM text or the path of a PEM file; empty (the
# embedded demo, development): one generated once and kept in var/video-signing-key.pem.
IOC_VIDEO_SIGNING_KEY = os.environ.get("IOC_VIDEO_SIGNING_KEY", "")
# The tokens' issuer (`iss`), and how many seconds an address may wait before it is used
# (an established stream is not cut when its token expires later).
IOC_VIDEO_TOKEN_ISSUER = os.environ.get("IOC_VIDEO_TOKEN_ISSUER", "ioc")
IOC_VIDEO_TOKEN_SECONDS = int(os.environ.get("IOC_VIDEO_TOKEN_SECONDS", "60"))
# Where the relay serves the streams' websockets: one URL, or several (comma-separated),
# each camera always sent to the same one (a stable hash of its code), so one relay process
# pulls a camera. A path alone ("/video/", the default) is the page's own origin.
IOC_VIDEO_RELAY_URLS = env_list(
    "IOC_VIDEO_RELAY_URLS", os.environ.get("IOC_VIDEO_RELAY_URL", "/video/")
)
# What serves the streams the tokens open: "relay" (the platform's own, MPEG-TS over a
# websocket) or "mediamtx" (an existing MediaMTX, `manage.py mediamtx_config`, its HLS
# played with hls.js; IOC_VIDEO_RELAY_URLS are then its HLS bases, such as
# https://media.example:8888/, and the token travels in an Authorization header).
IOC_VIDEO_MEDIA_SERVER = os.environ.get("IOC_VIDEO_MEDIA_SERVER", "relay").strip().lower()
if IOC_VIDEO_MEDIA_SERVER not in {"relay", "mediamtx"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("IOC_VIDEO_MEDIA_SERVER must be “relay” or “mediamtx”.")
# This process's name as a relay, on every viewing session it records (docker-compose.yml
# names its relay services video-1, video-2); the host's name by default.
IOC_VIDEO_RELAY_NAME = os.environ.get("IOC_VIDEO_RELAY_NAME", "") or socket.gethostname()
# Stream addresses one staff account may be issued a minute (0 = no limit): a camera wall
# of 16 asks for 16 at once, and again when a stream drops.
IOC_VIDEO_STREAMS_PER_MINUTE = int(os.environ.get("IOC_VIDEO_STREAMS_PER_MINUTE", "120"))
# Cameras one relay process transcodes to H.264 at once (those an administrator set to be,
# CameraDetail.transcode_main; each costs about a third of a CPU core, bench/transcode.py);
# beyond it a viewer is told the relay is busy and offered the sub-stream. 0: none.
IOC_VIDEO_MAX_TRANSCODES = int(os.environ.get("IOC_VIDEO_MAX_TRANSCODES", "2"))

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# Text from devices, citizens, integrators and staff is always set as text; this policy is
# the second line: a missed escape cannot run script (no inline script, no eval), post a
# form elsewhere or frame the operators' screens. Data reaches scripts through
# `json_script` islands (type="application/json": never executed, so no nonce is needed).


def csp_origin(url: str) -> str:
    """The origin of ``url`` as a CSP source ("" for a relative URL; Leaflet's ``{s}``
    subdomain placeholder becomes ``*``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def csp_websocket_sources(port: str) -> list[str]:
    """The live channel's address when it is on another port than the page (`make serve`);
    on the page's own port CSP's 'self' covers ws: and wss:."""
    return [f"ws://*:{port}", f"wss://*:{port}"] if port else []


# Where cameras' HLS streams come from (origins, comma-separated): the dashboard's player
# fetches them from there; a stream elsewhere is refused by the browser. By default the
# simulator's, where the demo city's cameras stream from.
IOC_STREAM_ORIGINS = env_list("IOC_STREAM_ORIGINS", csp_origin(IOC_SIMULATOR_URL))

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # No inline style either: templates carry no style attribute or element. Leaflet
        # and uPlot place elements through the CSSOM (element.style), which CSP allows.
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *filter(None, [csp_origin(IOC_TILE_URL)])],
        "font-src": ["'self'"],
        "connect-src": [
            "'self'",
            *csp_websocket_sources(IOC_WS_PORT),
            *IOC_STREAM_ORIGINS,
            # The video relays' websockets, or MediaMTX's HLS, when not on the page's origin.
            *filter(None, map(csp_origin, IOC_VIDEO_RELAY_URLS)),
        ],
        # hls.js plays through MediaSource (blob: URLs) and runs its demuxer in a blob: worker.
        "media-src": ["'self'", "blob:", *IOC_STREAM_ORIGINS],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Mail, logging ----------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "ioc@localhost")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("IOC_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per poll request would drown everything else.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# How many reverse proxies of our own stand in front of the web processes (docker-compose:
# nginx, 1). Each appends the address it was reached from to X-Forwarded-For, so the client
# is that many entries from the right (ioc.middleware.request_address); entries further
# left are whatever the client wrote. 0: no proxy, the header is ignored. The former
# IOC_TRUST_X_FORWARDED_FOR=true means one proxy.
IOC_TRUSTED_PROXY_HOPS = int(
    os.environ.get(
        "IOC_TRUSTED_PROXY_HOPS", "1" if env_bool("IOC_TRUST_X_FORWARDED_FOR", False) else "0"
    )
)
