"""Slipway settings: everything comes from the environment, with embedded local defaults.

A clean clone runs with no `.env`: SQLite and an MLflow sqlite store under `var/`, a
filesystem Celery broker (real worker and beat processes, no server), and the dev cluster
on 127.0.0.1:8001. Setting DATABASE_URL, REDIS_URL, MLFLOW_TRACKING_URI switches to the
real services. Every variable is documented in `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.environ import env_bool, env_float, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SLIPWAY_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

PLACEHOLDER_SECRET = "dev-only-insecure-secret-key-change-me"
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY", PLACEHOLDER_SECRET)
if not DEBUG and SECRET_KEY == PLACEHOLDER_SECRET:
    raise ImproperlyConfigured("DEBUG=false needs a real SECRET_KEY (or SECRET_KEY_FILE).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "apps.core",
    "apps.tenancy",
    "apps.registry",
    "apps.readiness",
    "apps.deployments",
    "apps.drift",
    "apps.costs",
    "apps.runbooks",
    "apps.notifications",
    "axes",
]

MIDDLEWARE = [
    "apps.core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.core.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.RequestSourceMiddleware",
    # Last: turns a sign-in refused for lockout into the lockout page (apps.tenancy.lockout).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "apps.tenancy.context.tenancy",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env_str("SQLITE_PATH", str(VAR_DIR / "slipway.sqlite3"))),
            # Several processes (web, worker, beat) share the file: wait for locks and use WAL.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Keep connections between requests, as for PostgreSQL: a new SQLite connection
            # re-reads the whole schema on its first query (~1-2 ms a request under gunicorn).
            "CONN_MAX_AGE": 60,
            # A file, not memory, so the end-to-end tests' worker and beat processes can open
            # the test database (they get its path as SQLITE_PATH); per pid so parallel runs
            # in one checkout do not share it.
            "TEST": {"NAME": str(VAR_DIR / f"test_slipway_{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenancy.User"
LOGIN_URL = "tenancy:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "tenancy:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# HTTPS only in production (DEBUG=false): HSTS for a year and redirects to https, except the
# probes, which the orchestrator calls over plain HTTP inside the cluster. Behind a TLS-
# terminating proxy set SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (the proxy must set it).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
if env_str("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + env_str("SECURE_PROXY_SSL_HEADER").upper().replace("-", "_"), "https")
# Content-Security-Policy, Permissions-Policy: apps.core.security.SecurityHeadersMiddleware.

# --- sign-in: lockout after failed attempts (django-axes; apps.tenancy.lockout) ----------
# Backends: the lockout check first (axes requires it), then passwords, then SSO if configured.
AUTHENTICATION_BACKENDS = [
    "apps.tenancy.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
# Lock the username+address pair, not the account: nobody can lock a user out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Lockout length with backoff: base minutes, doubled per lockout of the pair in 24 h, capped.
SLIPWAY_LOCKOUT_BASE_MINUTES = env_int("SLIPWAY_LOCKOUT_BASE_MINUTES", 5)
SLIPWAY_LOCKOUT_MAX_MINUTES = env_int("SLIPWAY_LOCKOUT_MAX_MINUTES", 24 * 60)
AXES_COOLOFF_TIME = "apps.tenancy.lockout.cool_off"
AXES_USE_ATTEMPT_EXPIRATION = True  # each pair's attempts expire on their own (backed-off) schedule
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the backoff is explicit, not per retry
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.tenancy.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in Slipway's audit log already
AXES_ENABLED = env_bool("AXES_ENABLED", True)
# The client address is REMOTE_ADDR (as in the audit log); behind a proxy, have it set REMOTE_ADDR.
AXES_CLIENT_IP_CALLABLE = "apps.core.middleware.client_ip"

# --- sign-in: OpenID Connect SSO (optional; apps.tenancy.oidc) ---------------------------
# On when OIDC_RP_CLIENT_ID is set; the IdP's endpoints come from the environment too.
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_RP_CLIENT_SECRET")
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile groups")
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0)
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_PLATFORM_GROUP = env_str("OIDC_PLATFORM_GROUP", "slipway-platform")
OIDC_TEAM_GROUPS = env_str("OIDC_TEAM_GROUPS")
LOGIN_REDIRECT_URL_FAILURE = "/login/"  # a path: mozilla-django-oidc does not resolve names here
if OIDC_ENABLED:
    # (A malformed OIDC_TEAM_GROUPS stops the process too: TenancyConfig.ready parses it.)
    missing = [name for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT",
                                 "OIDC_OP_USER_ENDPOINT", "OIDC_OP_JWKS_ENDPOINT") if not globals()[name]]
    if missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set, so SSO needs {', '.join(missing)} too.")
    AUTHENTICATION_BACKENDS.append("apps.tenancy.oidc.SlipwayOIDCBackend")

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # Embedded broker: a folder on disk shared by the web, worker and beat processes.
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "out").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (pidbox) messages; without this kombu writes ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SLIPWAY_SYNC_INTERVAL_SECONDS = env_int("SLIPWAY_SYNC_INTERVAL_SECONDS", 300)
# The rollout reconciler: beat tick, how long pods may take to become ready, error budget.
SLIPWAY_TICK_SECONDS = env_int("SLIPWAY_TICK_SECONDS", 10)
SLIPWAY_READY_TIMEOUT_SECONDS = env_int("SLIPWAY_READY_TIMEOUT_SECONDS", 600)
SLIPWAY_MAX_CONSECUTIVE_ERRORS = env_int("SLIPWAY_MAX_CONSECUTIVE_ERRORS", 30)
# How long a reconcile holds its rollout; a worker killed mid-tick blocks that rollout this long.
SLIPWAY_LEASE_SECONDS = env_int("SLIPWAY_LEASE_SECONDS", 60)
# The cluster used when an environment names none: the dev cluster (devcluster/).
SLIPWAY_DEVCLUSTER_URL = env_str("SLIPWAY_DEVCLUSTER_URL", "http://127.0.0.1:8001")

# --- Costs ----------------------------------------------------------------------------
# Daily AWS Cost Explorer actuals (grouped by the tenant/model/environment cost-allocation
# tags); off unless AWS credentials are configured. Cost Explorer's API lives in us-east-1.
SLIPWAY_COSTS_AWS_ENABLED = env_bool("SLIPWAY_COSTS_AWS_ENABLED", False)
SLIPWAY_COSTS_AWS_REGION = env_str("SLIPWAY_COSTS_AWS_REGION", "us-east-1")
# PromQL for a workload's mean GPU utilisation (0-1) over {window} seconds (placeholders as
# in the gate queries: {namespace}, {workload}, {window}).
SLIPWAY_COSTS_GPU_UTILIZATION_QUERY = env_str(
    "SLIPWAY_COSTS_GPU_UTILIZATION_QUERY",
    'avg(avg_over_time(devcluster_gpu_utilization{namespace="{namespace}",workload="{workload}"}[{window}s]))')

# --- MLflow ---------------------------------------------------------------------------
MLFLOW_TRACKING_URI = env_str("MLFLOW_TRACKING_URI", f"sqlite:///{VAR_DIR / 'mlflow.db'}")
MLFLOW_REGISTRY_URI = env_str("MLFLOW_REGISTRY_URI", MLFLOW_TRACKING_URI)
MLFLOW_ARTIFACT_ROOT = env_str("MLFLOW_ARTIFACT_ROOT", str(VAR_DIR / "mlartifacts"))
MLFLOW_TIMEOUT_SECONDS = env_int("MLFLOW_TIMEOUT_SECONDS", 10)

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.tenancy.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.tenancy.throttling.TokenRateThrottle",
        "apps.tenancy.throttling.TenantRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Slipway API",
    "DESCRIPTION": "Ship ML models from MLflow to production GPUs, safely.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several apps have a `status` choice field; name each enum after its TextChoices.
    "ENUM_NAME_OVERRIDES": {"DeploymentStatusEnum": "apps.deployments.choices.DeploymentStatus",
                            "DestinationKindEnum": "apps.notifications.choices.DestinationKind",
                            "DeliveryStatusEnum": "apps.notifications.choices.DeliveryStatus"},
}
# Requests per minute for one API token (the tenant's own limit is on the Tenant row).
SLIPWAY_TOKEN_RATE_PER_MINUTE = env_int("SLIPWAY_TOKEN_RATE_PER_MINUTE", 600)
SLIPWAY_TOKEN_DEFAULT_DAYS = env_int("SLIPWAY_TOKEN_DEFAULT_DAYS", 90)

# Rate-limit counters and other shared state: Redis when configured, else the database.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

SLIPWAY_PUBLIC_URL = env_str("SLIPWAY_PUBLIC_URL", "http://127.0.0.1:8000")

# --- Notifications (webhooks and e-mail) ---------------------------------------------------
# Plain-http webhooks and loopback addresses (127.0.0.0/8, ::1) only in development, where a
# local receiver is the point; link-local and cloud metadata addresses are always refused.
SLIPWAY_NOTIFY_ALLOW_HTTP = env_bool("SLIPWAY_NOTIFY_ALLOW_HTTP", DEBUG)
SLIPWAY_NOTIFY_ALLOW_LOOPBACK = env_bool("SLIPWAY_NOTIFY_ALLOW_LOOPBACK", DEBUG)
SLIPWAY_NOTIFY_TIMEOUT_SECONDS = env_float("SLIPWAY_NOTIFY_TIMEOUT_SECONDS", 5.0)
SLIPWAY_NOTIFY_MAX_ATTEMPTS = env_int("SLIPWAY_NOTIFY_MAX_ATTEMPTS", 5)
# Waits after attempts 1, 2, 3, 4 (the last one repeats when there are more attempts).
SLIPWAY_NOTIFY_BACKOFF_SECONDS = [int(v) for v in env_list("SLIPWAY_NOTIFY_BACKOFF_SECONDS",
                                                           ["30", "120", "600", "3600"])]
# How often beat looks for deliveries whose retry is due.
SLIPWAY_NOTIFY_SWEEP_SECONDS = env_int("SLIPWAY_NOTIFY_SWEEP_SECONDS", 15)
# E-mail destinations use Django's mail backend: the console by default (the worker prints
# them); for real mail set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Slipway <slipway@localhost>")
SLIPWAY_PROBE_TIMEOUT_SECONDS = env_float("SLIPWAY_PROBE_TIMEOUT_SECONDS", 3.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "alembic": {"level": "WARNING"},
        "mlflow": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # logs every sign-in at INFO; lockouts (WARNING) and the audit log suffice
    },
}
