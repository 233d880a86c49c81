"""Settings read from the environment (SPEC §5).

Every variable is optional: with none set the service runs on a SQLite file and a
filesystem Celery broker, so a first run needs no server. Bad values raise at start-up
instead of being silently replaced by a default.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from scheduler_project import conf, production, task_names

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SCHEDULER_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = conf.env_bool(os.environ, "DEBUG", default=False)
# The development defaults only serve with DEBUG on (scheduler_project/production.py).
SECRET_KEY = env.str("SECRET_KEY", default=production.DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# --- HTTPS and cookies (README "Deploy it"): off by default so a first run on
# plain http://127.0.0.1 works; the documented production env turns each on.
SECURE_SSL_REDIRECT = conf.env_bool(os.environ, "SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = conf.env_int(os.environ, "SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = conf.env_bool(
    os.environ, "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False
)
SECURE_HSTS_PRELOAD = conf.env_bool(os.environ, "SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = conf.env_bool(
    os.environ, "SECURE_COOKIES", default=False
)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (the header and its value).
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_header and len(_proxy_header) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER takes a header and a value: HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) or None
SESSION_COOKIE_AGE = conf.env_int(os.environ, "SESSION_COOKIE_AGE", default=12 * 3600)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from the project
    "csp",
    "django_htmx",
    "django_celery_beat",
    "access",
    "businesses",
    "schedules",
    "retry",
    "webhooks",
    "notifications",
    "monitoring",
    "dashboard",
    "apify_sandbox",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer early, so every answer carries the policy.
    "csp.middleware.CSPMiddleware",
    # Serves the dashboard's CSS and the htmx that django-htmx ships, in any deployment.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "scheduler_project.middleware.RejectUnstorableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # CommonMiddleware, except that a write to /api/ without its slash is a JSON 404, never a
    # redirect that drops the body.
    "scheduler_project.middleware.ApiCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "scheduler_project.urls"
WSGI_APPLICATION = "scheduler_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own pages beside the apps': the API docs (scheduler_project/apidocs.py).
        "DIRS": [BASE_DIR / "scheduler_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.dashboard_nav",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'scheduler.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite has no row locks: IMMEDIATE transactions serialise writers, which is what
    # makes the dispatcher's claim safe on the embedded default.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"transaction_mode": "IMMEDIATE", "timeout": 20})
# Persistent connections: a new PostgreSQL connection per request halved the webhook's
# throughput (bench/webhook_load.py). Health checks drop a connection that died meanwhile.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable database host fails fast (and /readyz says so) instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # The busiest statements run on server-binding cursors that psycopg prepares after 5
    # runs on a connection (scheduler_project/prepared.py); Django's own cursors never do.
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
    if env.bool("DATABASE_TRANSACTION_POOLING", default=False):
        # Behind PgBouncer in transaction mode each transaction may get another server
        # connection: no cursor may outlive its transaction, no statement be prepared on one.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# Static files are served by WhiteNoise straight from the apps and packages (no collectstatic
# step to forget); set STATIC_ROOT to collect them for a CDN or a front web server.
STATIC_ROOT = env.str("STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "scheduler_project" / "static"]  # the API docs' styles

LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:overview"

# --- Logins (dashboard and Django admin): django-axes locks out guessing, per user name and
# per client address (REMOTE_ADDR; behind a proxy that is the proxy's unless it passes the
# client's own); `manage.py axes_reset` (or `axes_reset_username NAME`) lifts a lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = conf.env_int(os.environ, "LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=conf.env_int(os.environ, "LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "dashboard/locked_out.html"
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# Shared by every process: the product API's rate limit counts per key here
# (access/throttles.py). Redis in production (`redis://host:6379/1`); in-process by default,
# where the embedded first run has one process.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
CACHES["default"].setdefault("KEY_PREFIX", "scheduler")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.ApiKeyAuthentication",
        "access.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["access.authentication.IsOperator"],
    "DEFAULT_PARSER_CLASSES": [
        "scheduler_project.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # JSON only: the browsable API's pages would need inline styles the CSP refuses, and the
    # docs page (/api/v1/docs/) is the way to try the API in a browser.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "scheduler_project.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scheduler_project.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "product": env.str("PRODUCT_API_RATE", default="6000/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Global Scheduler API",
    "DESCRIPTION": (
        "Product services manage their teams' businesses and read scraped reviews "
        "(`Authorization: Api-Key <key>`). Which key reaches what: a **team-bound key** "
        "(`create_api_key NAME --team TEAM_ID`) reaches only `/teams/TEAM_ID/…` (403 on any "
        "other team and on creating a team or changing its tier); an **unbound product key** "
        "reaches every team's product API (for the one trusted product service); an **admin "
        "key** or a staff session also reaches the operator API (`/admin/…`), where operators "
        "steer schedules, executions and retries. Apify calls the webhook with its secret "
        "header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's JavaScript and CSS come from drf-spectacular-sidecar, not a CDN: pinned
    # with the project, allowed by the CSP below, and working with no internet. (No ReDoc
    # page: it needs inline styles, see scheduler_project/apidocs.py; REDOC_DIST is for one.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: Swagger UI would send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a `state`: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStateEnum": "schedules.states.ExecutionState",
        "DeliveryStateEnum": "notifications.models.webhooks.DeliveryState",
        "AlertDeliveryStateEnum": "notifications.models.alerts.AlertChannelState",
    },
}

# --- Browser hardening (django-csp): pages load scripts, styles, images and connections from
# this origin only, run no inline script or style, and nobody may frame them. The API docs
# page adds data: images (scheduler_project/apidocs.py); the dashboard and the Django admin
# need nothing more (tests/dashboard fail on any violation).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"  # frame-ancestors for browsers that predate it
SECURE_REFERRER_POLICY = "same-origin"  # other sites never see our URLs (ids, filters)

# One format for every process (web, workers, beat, dispatcher, sandbox): Celery keeps this
# root handler (CELERY_WORKER_HIJACK_ROOT_LOGGER) and runserver's request lines use it too.
# A task received / sent / succeeded is routine: at DEBUG, so an idle stack is quiet (set
# LOG_LEVEL_TASKS=INFO to see every one); failures are warnings and errors, always shown.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
_TASK_LOG_LEVEL = env.str("LOG_LEVEL_TASKS", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": LOG_FORMAT, "datefmt": "%Y-%m-%d %H:%M:%S"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # httpx logs every request at INFO: a line per webhook delivery sent.
        "httpx": {"level": "WARNING"},
        **{
            name: {"level": _TASK_LOG_LEVEL}
            for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat")
        },
    },
}

# --- Celery -------------------------------------------------------------------------------
# The default broker is kombu's filesystem transport: no server, good for a first run only.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # kombu warns on every connection that the transport has no host name: it needs none.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # acks_late: a message whose worker died unacknowledged is delivered again after this.
    # Every task is idempotent (compare-and-set, unique constraints), so redelivery is safe.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="scheduler")
SCHEDULER_QUEUES = task_names.QUEUES  # queue → the tasks routed to it
CELERY_TASK_ROUTES = {
    task: {"queue": queue} for queue, tasks in SCHEDULER_QUEUES.items() for task in tasks
}
ALL_QUEUES = ",".join([*SCHEDULER_QUEUES, CELERY_TASK_DEFAULT_QUEUE])
# Declared, so `celery -A scheduler_project worker` with no -Q consumes every one of them
# (-Q narrows); without this a plain worker reads only the default queue and dispatch,
# starts and callbacks wait in queues nobody reads.
CELERY_TASK_QUEUES = [Queue(name) for name in ALL_QUEUES.split(",")]
CELERY_TASK_CREATE_MISSING_QUEUES = True
CELERY_BEAT_SCHEDULER = "schedules.beat:HeartbeatScheduler"
CELERY_TIMEZONE = "UTC"

# --- Apify ------------------------------------------------------------------------------
APIFY_TOKEN = env.str("APIFY_TOKEN", default="")
APIFY_API_URL = env.str("APIFY_API_URL", default="https://api.apify.com")
APIFY_MAX_RETRIES = env.int("APIFY_MAX_RETRIES", default=4)
APIFY_MIN_RETRY_DELAY_MS = env.int("APIFY_MIN_RETRY_DELAY_MS", default=500)
WEBHOOK_BASE_URL = env.str("WEBHOOK_BASE_URL", default="http://127.0.0.1:8000")
APIFY_WEBHOOK_SECRET = env.str("APIFY_WEBHOOK_SECRET", default=production.DEV_WEBHOOK_SECRET)

# --- Scheduler knobs (SPEC §2, §3) ---------------------------------------------------------
# Every SCHEDULER_* setting (and DISPATCH_TICK_SECONDS, READYZ_TIMEOUT_SECONDS, METRICS_TOKEN):
# types and defaults live in scheduler_project/conf.py; the environment overrides them.
globals().update(conf.from_environ(os.environ))
