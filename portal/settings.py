"""Settings for the operations portal.

Every value comes from the environment (or a `.env` file beside manage.py) through
django-environ. Defaults are safe for a laptop: SQLite in `var/`, the ORM task broker,
mail printed to the console. See the configuration table in README.md.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from portal.lib.envparse import (
    database_config,
    development_secret_key,
    env_float,
    env_int,
    queue_config,
    served_hosts,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; a missing file is fine

# The SQLite file, the development secret key and collected static files live here.
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))


def env_bool(name: str, default: bool) -> bool:
    """Booleans fail loudly: DEBUG=ture must not silently mean False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    # Development only: a random key kept in var/, so sessions survive restarts and no two
    # laptops share a key that is printed in a repository.
    SECRET_KEY = development_secret_key(VAR_DIR)

# runportal tells its children the address they serve (PORTAL_SERVED_URL), so links in emails,
# webhooks and ack links follow `PORT=8765 make run` unless PORTAL_BASE_URL says otherwise.
PORTAL_SERVED_URL = env.str("PORTAL_SERVED_URL", default="").rstrip("/")
PORTAL_BASE_URL = (env.str("PORTAL_BASE_URL", default="") or PORTAL_SERVED_URL or "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=served_hosts(PORTAL_SERVED_URL))
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PORTAL_BASE_URL])

INSTALLED_APPS = [
    "portal.admin_apps.PortalAdminConfig",  # django.contrib.admin, asking the portal's role rule
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "portal",
    "monitoring",
    "monitoring.alerting",
    "monitoring.errors",
    "monitoring.integrations",
    "codehealth",
    "analytics",
    "maintenance",
    "reporting",
    "reporting.benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Route, status and duration of every request. After WhiteNoise (static files are answered
    # before it and are not worth a series) and before everything else, so sessions, CSRF,
    # authentication and the middleware's own early answers (413, 503, 429) are timed and counted.
    "monitoring.requests.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.middleware.BodyLimitMiddleware",
    "portal.middleware.DatabaseUnavailableMiddleware",  # 503 + Retry-After when the database is down
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The session and user on @track_usage events (needs the session and the user: after both).
    "analytics.middleware.UsageContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout marked during authenticate() into the 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": database_config(env.str("DATABASE_URL", default=""), VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Shared cache so API throttles and django-q2 stats agree across processes.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# runportal sets PORTAL_QUIET unless --verbose or LOG_LEVEL is given: request lines and one line
# per finished task drown what matters on a laptop; warnings and errors still show.
PORTAL_QUIET = env_bool("PORTAL_QUIET", False)
# runportal serves through gunicorn: one worker process on a laptop, several for a team install.
PORTAL_WEB_WORKERS = env_int("PORTAL_WEB_WORKERS", 1 if DEBUG else 4, min=1, max=64)
PORTAL_WEB_THREADS = env_int("PORTAL_WEB_THREADS", 4, min=1, max=64)
Q_CLUSTER = queue_config(
    redis_url=REDIS_URL,
    workers=env_int("PORTAL_WORKERS", 2, min=1, max=64),
    sync=env_bool("PORTAL_TASKS_SYNC", False),
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): failures are counted per username + client address, and a
# locked-out pair gets a 429 until the cool-off ends. The lockout check must come first.
AUTHENTICATION_BACKENDS = ["portal.lockout.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, min=1, max=1000)
# axes reads a float as hours; at most 30 days.
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_MINUTES", 15.0, min=0.1, max=43_200) / 60
# "a+b" locks the combination; a plain name locks on that alone (e.g. username: any address).
AXES_LOCKOUT_PARAMETERS = [
    p.split("+") if "+" in p else p for p in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
# Behind N reverse proxies the client address is the Nth from the right of X-Forwarded-For.
AXES_IPWARE_PROXY_COUNT = env_int("AXES_IPWARE_PROXY_COUNT", 0, min=0, max=10) or None
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # only failures matter here; a row per successful login grows forever
AXES_LOCKOUT_CALLABLE = "portal.lockout.lockout_response"
AXES_VERBOSE = False  # no banner at every start
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# One time format everywhere, 24-hour with the zone: Django localizes with the language's
# formats, so they live in portal/formats/en/ (the admin follows); these are the fallback.
FORMAT_MODULE_PATH = ["portal.formats"]
DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y-m-d H:i T"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
# Chart.js 4 and web-vitals come from package-lock.json (node_modules); nothing else from npm is
# served, and no page loads a script from another host.
STATICFILES_DIRS = [
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    ("vendor/web-vitals", BASE_DIR / "node_modules" / "web-vitals" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ServiceKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "portal.api.filters.PortalFilterBackend",  # ids and dates bounded: 400, not 500
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    # JSON only: a form body dropped nested fields and read empty ones as "not given". Other
    # types are a 415; the token exchange (portal.api.tokens) takes forms too.
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.ServiceKeyWriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {"service_write": env.str("PORTAL_SERVICE_WRITE_RATE", default="600/min")},
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PortalAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # JSON that never says Infinity/NaN (non-finite floats become null), plus the browsable API.
    "DEFAULT_RENDERER_CLASSES": [
        "portal.api.renderers.FiniteJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Operations portal API",
    "DESCRIPTION": "Monitoring, alerting, code health, usage analytics and maintenance.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["portal.api.permissions.RolePermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ServiceKey": {"type": "http", "scheme": "bearer", "description": "A service API key."}}
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "WARNING" if PORTAL_QUIET else "INFO"},
        # django-q2 logs through ours once the root logger has a handler (its log_level is then unused).
        "django-q": {"level": "WARNING" if PORTAL_QUIET else env.str("LOG_LEVEL", default="INFO")},
        # django-axes logs every login at INFO; repeated failures and lockouts are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}

# The DEBUG 500 page and error emails mask credentials, also inside URLs and nested settings.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.errorreports.PortalExceptionReporterFilter"

# Production hardening: on when DEBUG is off, so `check --deploy` is clean by default.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, min=0, max=2 * 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Health and metrics endpoints are polled over plain HTTP by load balancers inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$", r"^ping/"]

# ---- app settings: each app reads its own block; keep them here so the environment is the only source
# monitoring
# Bounds: a retention below a day (or negative) would let the prune job delete what was just written.
METRICS_RAW_RETENTION_DAYS = env_int("METRICS_RAW_RETENTION_DAYS", 7, min=1, max=3650)
METRICS_MINUTE_RETENTION_DAYS = env_int("METRICS_MINUTE_RETENTION_DAYS", 30, min=1, max=3650)
METRICS_HOUR_RETENTION_DAYS = env_int("METRICS_HOUR_RETENTION_DAYS", 400, min=1, max=3650)
METRICS_ROLLUP_DELAY_SECONDS = env_int("METRICS_ROLLUP_DELAY_SECONDS", 120, min=0, max=3600)
METRICS_ROLLUP_MAX_MINUTES = env_int("METRICS_ROLLUP_MAX_MINUTES", 240, min=1, max=10_080)
METRICS_PRUNE_BATCH = env_int("METRICS_PRUNE_BATCH", 20_000, min=100, max=1_000_000)
METRICS_INGEST_MAX_BATCH = env_int("METRICS_INGEST_MAX_BATCH", 5000, min=1, max=100_000)
# 4 KiB per allowed sample (20 MB by default); a larger body gets 413. Not DATA_UPLOAD_MAX_MEMORY_SIZE
# (2.5 MB), which would answer a valid batch with 400.
METRICS_INGEST_MAX_BODY_BYTES = env_int(
    "METRICS_INGEST_MAX_BODY_BYTES", 4096 * METRICS_INGEST_MAX_BATCH, min=1024, max=512 * 1024 * 1024
)
METRICS_FLUSH_ENABLED = env_bool("METRICS_FLUSH_ENABLED", True)
# The portal's own pages report their web vitals (monitoring.vitals) to the portal service.
VITALS_ENABLED = env_bool("VITALS_ENABLED", True)
# Beacons accepted per browser key (the portal's own key included) per UTC minute; over it, 429.
VITALS_RATE_PER_MINUTE = env_int("VITALS_RATE_PER_MINUTE", 6000, min=1, max=10_000_000)
METRICS_FLUSH_INTERVAL_SECONDS = env_float("METRICS_FLUSH_INTERVAL_SECONDS", 10.0, min=0.1, max=3600)
METRICS_FLUSH_SIZE = env_int("METRICS_FLUSH_SIZE", 1000, min=1, max=1_000_000)
METRICS_BUFFER_LIMIT = env_int("METRICS_BUFFER_LIMIT", 100_000, min=1, max=10_000_000)
METRICS_SERVICE = env.str("METRICS_SERVICE", default="portal")
METRICS_HOST_SERVICE = env.str("METRICS_HOST_SERVICE", default="")
# The collect job runs every minute; its sampling window must end well inside that minute.
METRICS_COLLECT_WINDOW_SECONDS = env_float("METRICS_COLLECT_WINDOW_SECONDS", 1.0, min=0.05, max=30)
METRICS_PROMETHEUS_REQUIRE_KEY = env_bool("METRICS_PROMETHEUS_REQUIRE_KEY", False)
METRICS_PROMETHEUS_LOOKBACK_MINUTES = env_int("METRICS_PROMETHEUS_LOOKBACK_MINUTES", 10, min=1, max=1440)
# Request metrics (monitoring.requests): path prefixes left out, and the fraction of requests recorded.
REQUESTS_METRICS_ENABLED = env_bool("REQUESTS_METRICS_ENABLED", True)
REQUESTS_METRICS_EXCLUDE = env.list(
    "REQUESTS_METRICS_EXCLUDE", default=["/static/", "/health/", "/metrics", "/favicon.ico"]
)
REQUESTS_METRICS_SAMPLE_RATE = env_float("REQUESTS_METRICS_SAMPLE_RATE", 1.0, min=0.0, max=1.0)
# Sentry-SDK ingest (monitoring/errors/sentry): limits of one request, as sent and decompressed,
# and of one event; items per envelope; accepted events + transactions per project per minute.
ERRORS_INGEST_MAX_BODY_BYTES = env_int("ERRORS_INGEST_MAX_BODY_BYTES", 5_000_000, min=10_000, max=100_000_000)
ERRORS_INGEST_MAX_ENVELOPE_BYTES = env_int("ERRORS_INGEST_MAX_ENVELOPE_BYTES", 20_000_000, min=10_000, max=200_000_000)
ERRORS_INGEST_MAX_EVENT_BYTES = env_int("ERRORS_INGEST_MAX_EVENT_BYTES", 1_000_000, min=1_000, max=20_000_000)
ERRORS_INGEST_MAX_ITEMS = env_int("ERRORS_INGEST_MAX_ITEMS", 100, min=1, max=1000)
ERRORS_INGEST_RATE_PER_MINUTE = env_int("ERRORS_INGEST_RATE_PER_MINUTE", 6000, min=1, max=10_000_000)
# Error groups (monitoring.errors): events are deleted after this many days (groups keep their
# counts); distinct users are counted exactly up to ERRORS_USERS_TRACKED per group; the portal's
# own failures (requests, tasks) are captured as events unless ERRORS_CAPTURE_ENABLED is off.
ERRORS_EVENT_RETENTION_DAYS = env_int("ERRORS_EVENT_RETENTION_DAYS", 30, min=1, max=3650)
ERRORS_USERS_TRACKED = env_int("ERRORS_USERS_TRACKED", 10_000, min=1, max=1_000_000)
ERRORS_CAPTURE_ENABLED = env_bool("ERRORS_CAPTURE_ENABLED", True)
# Scraping Prometheus exporters (monitoring.integrations): the largest body read from one target
# (read as it streams; past it the scrape fails) and how many targets are fetched at once.
SCRAPE_MAX_BODY_BYTES = env_int("SCRAPE_MAX_BODY_BYTES", 10_000_000, min=10_000, max=100_000_000)
SCRAPE_CONCURRENCY = env_int("SCRAPE_CONCURRENCY", 8, min=1, max=64)
# OpenTelemetry metrics (POST /v1/metrics): the largest body as sent and once decompressed, the
# samples one request may write (points past it are refused in partial_success), the resource
# attributes kept as labels (others are dropped: they would multiply series), and the scale
# exponential histograms are re-bucketed to (2 = 4 buckets per power of two).
OTLP_MAX_BODY_BYTES = env_int("OTLP_MAX_BODY_BYTES", 4_000_000, min=10_000, max=100_000_000)
OTLP_MAX_DECOMPRESSED_BYTES = env_int("OTLP_MAX_DECOMPRESSED_BYTES", 16_000_000, min=10_000, max=200_000_000)
OTLP_MAX_SAMPLES = env_int("OTLP_MAX_SAMPLES", 20_000, min=100, max=1_000_000)
OTLP_RESOURCE_LABELS = env.list(
    "OTLP_RESOURCE_LABELS", default=["service.instance.id", "deployment.environment", "host.name"]
)
OTLP_EXPONENTIAL_SCALE = env_int("OTLP_EXPONENTIAL_SCALE", 2, min=0, max=5)
# /v1/metrics is in the schema but not under /api/: without a fixed prefix the common one would
# become "/" and every other operation's id and tag would change (v1_alerts_list -> api_v1_...).
SPECTACULAR_SETTINGS["SCHEMA_PATH_PREFIX"] = "/api/"
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["ReceiverKindEnum"] = (
    "monitoring.integrations.models.ReceiverKind"
)
HEALTH_RESULT_RETENTION_DAYS = env_int("HEALTH_RESULT_RETENTION_DAYS", 30, min=1, max=3650)
# Custom health checks the deployment allows: name=dotted.path,other=dotted.path. The API and admin
# choose among these names only; an import path never comes from a request.
# In development (`make run` installs the demo) the demo shop's checks are registered by default.
DEMO_CUSTOM_CHECKS = {
    "demo_shop_api": "portal.demo.health.shop_api",
    "demo_payment_provider": "portal.demo.health.payment_provider",
    "demo_search_index": "portal.demo.health.search_index",
}
HEALTH_CUSTOM_CHECKS = env.dict("HEALTH_CUSTOM_CHECKS", default=DEMO_CUSTOM_CHECKS if DEBUG else {})
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "MetricKindEnum": "monitoring.models.MetricKind",
        "HealthStatusEnum": "monitoring.models.HealthStatus",
        "CheckKindEnum": "monitoring.models.CheckKind",
    }
)
# alerting
# Past these maxima a failed notification is retried so late (or so long) that it is lost in
# practice, a dead endpoint holds a worker for minutes, and `now + delay` can overflow a date.
ALERTING_ACK_LINK_MAX_AGE_HOURS = env_int("ALERTING_ACK_LINK_MAX_AGE_HOURS", 24, min=1, max=720)
ALERTING_DELIVERY_MAX_ATTEMPTS = env_int("ALERTING_DELIVERY_MAX_ATTEMPTS", 6, min=1, max=100)
ALERTING_DELIVERY_BACKOFF_SECONDS = env_int("ALERTING_DELIVERY_BACKOFF_SECONDS", 60, min=1, max=86_400)
ALERTING_DELIVERY_BACKOFF_MAX_SECONDS = env_int("ALERTING_DELIVERY_BACKOFF_MAX_SECONDS", 3600, min=1, max=7 * 86_400)
ALERTING_HTTP_TIMEOUT_SECONDS = env_float("ALERTING_HTTP_TIMEOUT_SECONDS", 10.0, min=0.5, max=60)
# codehealth
CODEHEALTH_WORKERS = env_int("CODEHEALTH_WORKERS", 2, min=1, max=64)  # analysis processes per scan
CODEHEALTH_EXCLUDES = env.list("CODEHEALTH_EXCLUDES", default=[])  # extra globs for every repository
# Repository paths set in the admin or API must lie under one of these (symlinks resolved).
CODEHEALTH_ALLOWED_ROOTS = env.list("CODEHEALTH_ALLOWED_ROOTS", default=[str(BASE_DIR), str(BASE_DIR / "repos")])
CODEHEALTH_MAX_FUNCTION_LINES = env_int("CODEHEALTH_MAX_FUNCTION_LINES", 60, min=1, max=100_000)
CODEHEALTH_MAX_CLASS_LINES = env_int("CODEHEALTH_MAX_CLASS_LINES", 400, min=1, max=100_000)
CODEHEALTH_MAX_COMPLEXITY = env_int("CODEHEALTH_MAX_COMPLEXITY", 10, min=1, max=1000)
CODEHEALTH_MAX_COGNITIVE = env_int("CODEHEALTH_MAX_COGNITIVE", 15, min=1, max=1000)
CODEHEALTH_MAX_NESTING = env_int("CODEHEALTH_MAX_NESTING", 4, min=1, max=100)
CODEHEALTH_MAX_PARAMETERS = env_int("CODEHEALTH_MAX_PARAMETERS", 5, min=1, max=100)
CODEHEALTH_MIN_MAINTAINABILITY = env_float("CODEHEALTH_MIN_MAINTAINABILITY", 20.0, min=0, max=100)
CODEHEALTH_PYLINT_TIMEOUT = env_float("CODEHEALTH_PYLINT_TIMEOUT", 600.0, min=1, max=1800)  # seconds
# Seconds a queued scan task may run: below the task queue's `retry` (1900 s), after which the
# ORM broker would hand the same scan to a second worker.
CODEHEALTH_SCAN_TIMEOUT = env_int("CODEHEALTH_SCAN_TIMEOUT", 1800, min=60, max=1800)
CODEHEALTH_TASK_LEAD_DAYS_CRITICAL = env_int("CODEHEALTH_TASK_LEAD_DAYS_CRITICAL", 7, min=0, max=3650)
CODEHEALTH_TASK_LEAD_DAYS_HIGH = env_int("CODEHEALTH_TASK_LEAD_DAYS_HIGH", 30, min=0, max=3650)
# maintenance: an offline OSV advisory directory the security audit matches installed packages
# against (e.g. a checkout of the PyPA advisory database); empty: pip-audit's service only.
PORTAL_ADVISORY_DB = env.str("PORTAL_ADVISORY_DB", default="")
# Two apps have a "severity" field with different choices; name both so the schema is unambiguous.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "CodehealthSeverityEnum": "codehealth.models.Severity",
        "CodehealthDebtKindEnum": "codehealth.models.DebtKind",
        "AlertSeverityEnum": "monitoring.alerting.models.Severity",
    }
)
# analytics
# Usage events (analytics.store): per batch of POST /api/v1/events/, the body is refused with 413
# above ANALYTICS_INGEST_MAX_BODY_BYTES before parsing; one event's metadata, as JSON, at most
# ANALYTICS_METADATA_MAX_BYTES. Raw events older than ANALYTICS_EVENT_RETENTION_DAYS are pruned
# (hour rollups are kept); a figure from fewer than ANALYTICS_MIN_SAMPLES events is "not enough data".
ANALYTICS_INGEST_MAX_BATCH = env_int("ANALYTICS_INGEST_MAX_BATCH", 1000, min=1, max=10_000)
ANALYTICS_INGEST_MAX_BODY_BYTES = env_int("ANALYTICS_INGEST_MAX_BODY_BYTES", 5_000_000, min=10_000, max=100_000_000)
ANALYTICS_METADATA_MAX_BYTES = env_int("ANALYTICS_METADATA_MAX_BYTES", 4096, min=2, max=65_536)
ANALYTICS_EVENT_RETENTION_DAYS = env_int("ANALYTICS_EVENT_RETENTION_DAYS", 90, min=1, max=3650)
ANALYTICS_PRUNE_BATCH = env_int("ANALYTICS_PRUNE_BATCH", 20_000, min=100, max=1_000_000)
ANALYTICS_MIN_SAMPLES = env_int("ANALYTICS_MIN_SAMPLES", 30, min=1, max=1_000_000)
# The in-process tracker (analytics.tracker, @track_usage): events of the portal's own features go
# to the database under the portal's service, flushed every ANALYTICS_TRACKER_FLUSH_INTERVAL_SECONDS
# or as soon as ANALYTICS_TRACKER_FLUSH_SIZE wait; past ANALYTICS_TRACKER_BUFFER_LIMIT buffered
# events new ones are dropped and counted (a request never waits for the database).
ANALYTICS_TRACKER_ENABLED = env_bool("ANALYTICS_TRACKER_ENABLED", True)
ANALYTICS_TRACKER_FLUSH_INTERVAL_SECONDS = env_float(
    "ANALYTICS_TRACKER_FLUSH_INTERVAL_SECONDS", 10.0, min=0.1, max=3600
)
ANALYTICS_TRACKER_FLUSH_SIZE = env_int("ANALYTICS_TRACKER_FLUSH_SIZE", 1000, min=1, max=1_000_000)
ANALYTICS_TRACKER_BUFFER_LIMIT = env_int("ANALYTICS_TRACKER_BUFFER_LIMIT", 100_000, min=1, max=10_000_000)
# Behaviour analysis (analytics.behaviour): a question over at most ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS
# events is answered on demand; larger ones are read from the results the daily job stores. Sessions
# end after ANALYTICS_BEHAVIOUR_SESSION_TIMEOUT_SECONDS without an event (the default of the API).
ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS = env_int("ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS", 200_000, min=100, max=20_000_000)
ANALYTICS_BEHAVIOUR_SESSION_TIMEOUT_SECONDS = env_int(
    "ANALYTICS_BEHAVIOUR_SESSION_TIMEOUT_SECONDS", 1800, min=60, max=86_400
)
# maintenance
# A plan waiting for approval longer than this (hours) is cancelled by the per-minute sweep.
MAINTENANCE_APPROVAL_EXPIRY_HOURS = env_int("MAINTENANCE_APPROVAL_EXPIRY_HOURS", 72, min=1, max=2160)
# Runs and tasks have "status", "kind" and "trigger" fields like other apps: name their enums.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "MaintenanceRunStatusEnum": "maintenance.models.runs.RunStatus",
        "MaintenanceTaskKindEnum": "maintenance.models.tasks.MaintenanceTask.Kind",
        "MaintenanceRunTriggerEnum": "maintenance.models.runs.MaintenanceRun.Trigger",
    }
)
# reporting
# How long the one-click unsubscribe link of a report email works (days).
REPORTING_UNSUBSCRIBE_MAX_AGE_DAYS = env_int("REPORTING_UNSUBSCRIBE_MAX_AGE_DAYS", 90, min=1, max=3650)
# Per-endpoint p95 regressions: an endpoint with fewer requests than this in either period is not judged.
REPORTING_REGRESSION_MIN_REQUESTS = env_int("REPORTING_REGRESSION_MIN_REQUESTS", 50, min=1, max=1_000_000)
# Report subscriptions and reports have "frequency", "kind", "status" and "trigger" fields: name their enums.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "ReportFrequencyEnum": "reporting.models.Frequency",
        "ReportStatusEnum": "reporting.models.ReportStatus",
        "ReportTriggerEnum": "reporting.models.Report.Trigger",
    }
)
# Benchmark runs have a "source" field like other apps: name its enum.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "BenchmarkRunSourceEnum": "reporting.benchmarks.models.BenchmarkRun.Source",
        "BenchmarkVerdictEnum": "reporting.benchmarks.models.BenchmarkRun.Verdict",
    }
)
