"""Django settings, read from the environment (see .env.example for every variable).

DJANGO_ENV=development (the default, used by `make run` and the tests) has safe local defaults:
SQLite in DATA_DIR, a generated credentials key in DATA_DIR/credentials.key. DJANGO_ENV=production
refuses to start without a real SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from powersync_site.env import env_bool, env_choice, env_int, env_list, env_str
from tariffs.engine.settings import ForecastType  # a pure module: no app is loaded by it

BASE_DIR = Path(__file__).resolve().parent.parent
DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, got {DJANGO_ENV!r}")
IS_PRODUCTION = DJANGO_ENV == "production"

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", "" if IS_PRODUCTION else _DEV_SECRET_KEY)
if IS_PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of 50+ characters in production"
    )

DEBUG = env_bool("DEBUG", default=not IS_PRODUCTION)
if IS_PRODUCTION and DEBUG:
    # DEBUG shows settings and tracebacks to anyone and keeps every query in memory.
    raise ImproperlyConfigured("DEBUG cannot be on in production (DJANGO_ENV=production)")
# Loopback names are always allowed: each container's own health check calls /healthz on
# 127.0.0.1, and a request that can reach loopback is already inside.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
ALLOWED_HOSTS += [host for host in LOOPBACK_HOSTS if host not in ALLOWED_HOSTS]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served from the project (no CDN)
    "django_celery_beat",
    "households",
    "credentials",
    "devices",
    "pricing",
    "tariffs",
    "automations",
    "ops",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if IS_PRODUCTION:  # gunicorn serves static files through WhiteNoise; runserver does it itself
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "powersync_site.urls"
WSGI_APPLICATION = "powersync_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Default: SQLite in DATA_DIR. WAL + IMMEDIATE transactions + a busy timeout let web, worker and
# beat share the file in `make run` without "database is locked" errors.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'powersync.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# PostgreSQL: a connection pool per process (Django's, over psycopg_pool). Celery's Django fixup
# closes the database connection before and after every task; pooled, that hands the connection
# back instead of tearing it down, so a task does not pay a fresh PostgreSQL connection (measured
# by bench.bench_sync: 17.9 -> 15.6 ms of worker CPU per sync). Size it to the worker's threads;
# 0 = off.
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 40)
if DATABASE_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django: a pool excludes persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-au"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Credentials encryption -----------------------------------------------------------------
# Comma-separated Fernet keys, NEWEST FIRST: the first encrypts, all decrypt (MultiFernet).
# In development, when unset, a key is generated once into DATA_DIR/credentials.key.
CREDENTIALS_ENCRYPTION_KEYS = env_list("CREDENTIALS_ENCRYPTION_KEYS")
CREDENTIALS_DEV_KEY_FILE = DATA_DIR / "credentials.key"
if IS_PRODUCTION and not CREDENTIALS_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("CREDENTIALS_ENCRYPTION_KEYS must be set in production")

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# The beat schedule lives in code (tasks/schedule.py); django-celery-beat's DatabaseScheduler
# copies it into the database idempotently at start-up, where the admin can see and pause it.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 30)
# Every Redis key PowerSync writes (locks, watch marks) starts with this.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "powersync")

# --- Upstream services ---------------------------------------------------------------------
# Each client's base URL is configuration only: point these at the built-in simulator
# (`python -m simulator`, which `make run` starts) or leave the defaults for the real services.
AMBER_API_BASE_URL = env_str("AMBER_API_BASE_URL", "https://api.amber.com.au/v1")
AMBER_WS_URL = env_str("AMBER_WS_URL", "wss://api-ws.amber.com.au")
AEMO_BASE_URL = env_str("AEMO_BASE_URL", "https://visualisations.aemo.com.au")
TESLA_FLEET_BASE_URL = env_str(
    "TESLA_FLEET_BASE_URL", "https://fleet-api.prd.na.vn.cloud.tesla.com"
)
TESLEMETRY_BASE_URL = env_str("TESLEMETRY_BASE_URL", "https://api.teslemetry.com")
TESLEMETRY_REGION_URL_TEMPLATE = env_str(
    "TESLEMETRY_REGION_URL_TEMPLATE", "https://{region}.teslemetry.com"
)
TESLA_AUTHORIZE_URL = env_str("TESLA_AUTHORIZE_URL", "https://auth.tesla.com/oauth2/v3/authorize")
TESLA_TOKEN_URL = env_str(
    "TESLA_TOKEN_URL", "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token"
)
# The operator's Tesla developer app (Fleet API access method and "Connect Tesla").
TESLA_CLIENT_ID = env_str("TESLA_CLIENT_ID")
TESLA_CLIENT_SECRET = env_str("TESLA_CLIENT_SECRET")
TESLA_REDIRECT_URI = env_str("TESLA_REDIRECT_URI")
# EC prime256v1 private key (PEM) whose public half is served at
# /.well-known/appspecific/com.tesla.3p.public-key.pem. Development generates one here.
TESLA_PARTNER_KEY_FILE = Path(
    env_str("TESLA_PARTNER_KEY_FILE", str(DATA_DIR / "tesla-partner-key.pem"))
)
UPSTREAM_CONNECT_TIMEOUT_SECONDS = env_int("UPSTREAM_CONNECT_TIMEOUT_SECONDS", 5)
UPSTREAM_READ_TIMEOUT_SECONDS = env_int("UPSTREAM_READ_TIMEOUT_SECONDS", 20)

# --- Automations ---------------------------------------------------------------------------
# The live listener (manage.py listen_amber): how often it re-reads the sites to listen for, and
# after how long a silent socket falls back to REST polling (s).
AMBER_LIVE_RECONCILE_SECONDS = env_int("AMBER_LIVE_RECONCILE_SECONDS", 60)
AMBER_LIVE_SILENCE_SECONDS = env_int("AMBER_LIVE_SILENCE_SECONDS", 360)
# Prices fetched per sync: the current half-hour's 5-minute actuals and a day of forecasts.
# 5-minute forecasts run to the next half-hour boundary, 30-minute ones after: 64 covers 24 h.
AMBER_PREVIOUS_INTERVALS = env_int("AMBER_PREVIOUS_INTERVALS", 6)
AMBER_NEXT_INTERVALS = env_int("AMBER_NEXT_INTERVALS", 64)
# The forecast new sites start with (each household may change its own). SPEC §4.4's default
# is Amber's predicted price; "calibrated" meets the write budget where predicted cannot (README).
DEFAULT_FORECAST_TYPE = env_choice(
    "DEFAULT_FORECAST_TYPE", ForecastType.PREDICTED.value, tuple(ForecastType)
)
# Push when the current/next half-hour moves more than this (c/kWh)…
SYNC_TOLERANCE_C_PER_KWH = env_str("SYNC_TOLERANCE_C_PER_KWH", "1")
# …or any half-hour of the day moves more than this (c/kWh).
SYNC_WIDE_TOLERANCE_C_PER_KWH = env_str("SYNC_WIDE_TOLERANCE_C_PER_KWH", "5")
# Routine tariff writes per Tesla site (spike/curtailment commands are never held back). The
# replay of a real Amber day needed 166 writes at a 1 c/kWh tolerance (bench/results/sync.json).
TESLA_WRITES_PER_HOUR = env_int("TESLA_WRITES_PER_HOUR", 20)
TESLA_WRITES_PER_DAY = env_int("TESLA_WRITES_PER_DAY", 200)
# Energy monitoring: raw samples kept (days; hourly roll-ups stay), sampling cadence while a page
# watches the site / otherwise (s), and the demand interval (min).
ENERGY_RAW_RETENTION_DAYS = env_int("ENERGY_RAW_RETENTION_DAYS", 35)
ENERGY_WATCHED_INTERVAL_SECONDS = env_int("ENERGY_WATCHED_INTERVAL_SECONDS", 30)
ENERGY_IDLE_INTERVAL_SECONDS = env_int("ENERGY_IDLE_INTERVAL_SECONDS", 300)
DEMAND_INTERVAL_MINUTES = env_int("DEMAND_INTERVAL_MINUTES", 30)
# History kept, in days (ops/retention.py; pruned daily). Commands stay at least 2 days: the
# write budget counts the last 24 h. A site's newest confirmed tariff is kept whatever its age.
TARIFF_PUSH_RETENTION_DAYS = env_int("TARIFF_PUSH_RETENTION_DAYS", 30, minimum=1)
DEVICE_COMMAND_RETENTION_DAYS = env_int("DEVICE_COMMAND_RETENTION_DAYS", 90, minimum=2)
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 180, minimum=1)
PRICE_RETENTION_DAYS = env_int("PRICE_RETENTION_DAYS", 35, minimum=2)

# --- REST framework -------------------------------------------------------------------------
# The API lives under /api/v1/ (powersync_site/api.py). Token first: an anonymous request gets
# 401 with "WWW-Authenticate: Token" (DRF asks the first class for that header). Throttle counts
# live in the default cache; with several web processes give them a shared cache (Redis).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only. Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB default) are a 413.
    "DEFAULT_PARSER_CLASSES": ["powersync_site.api_parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "powersync_site.api_support.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_ANON_THROTTLE_RATE", "60/hour"),
        "user": env_str("API_USER_THROTTLE_RATE", "3000/hour"),
        # Actions that make the service write to a Tesla site (sync, force discharge, restore).
        "site_actions": env_str("API_SITE_ACTION_THROTTLE_RATE", "30/hour"),
    },
    "EXCEPTION_HANDLER": "powersync_site.api_errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PowerSync API",
    "DESCRIPTION": (
        "Household-scoped REST API of PowerSync: sites and their automation settings, prices, "
        "the Tesla tariff (current and preview), pushes, saved profiles, custom TOU schedules, "
        "energy, events, and actions (sync, force discharge, restore). Authenticate with "
        "`Authorization: Token <key>` (POST /api/v1/auth/token/ issues one). Every error has "
        'the shape {"error": {"code", "message", "fields"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the NEM regions, whether a site's AEMO region or a write pause's region.
    "ENUM_NAME_OVERRIDES": {"NemRegionEnum": "devices.models.NemRegion"},
}

# --- Household web pages ----------------------------------------------------------------------
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
# Password-reset mail goes to the console unless a real backend is configured.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "PowerSync <noreply@localhost>")
# Login and API throttling count in this cache. Production shares it between processes through
# Redis; development and tests keep it in memory (no state left behind between test runs).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
        if IS_PRODUCTION
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "powersync"}
    )
}
LOGIN_THROTTLE_MAX_FAILURES = env_int("LOGIN_THROTTLE_MAX_FAILURES", 5)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60)

# --- Security in production -----------------------------------------------------------------
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
