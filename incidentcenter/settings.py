"""Incident Center settings: one module, every value from the environment (see `.env.example`).

With nothing set, it runs embedded: SQLite in `var/`, an in-memory channel layer and Celery tasks
run in-process. `DATABASE_URL` and `REDIS_URL` switch it to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from incidentcenter.env import env_bool, env_int, env_json_object, env_list, env_path, env_str

# Lets admin classes and querysets be written with type parameters (ModelAdmin[Contact]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (or set DEBUG=1 for development)")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "pgtrigger",
    "apps.core",
    "apps.accounts",
    "apps.contacts",
    "apps.runbooks",
    "apps.health",
    "apps.incidents",
    "apps.comms",
    "apps.paging",
    "apps.remediation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.accounts.middleware.UserTimezoneMiddleware",
]

ROOT_URLCONF = "incidentcenter.urls"
ASGI_APPLICATION = "incidentcenter.asgi.application"
WSGI_APPLICATION = "incidentcenter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["apps.core.templatetags.markdown", "apps.core.templatetags.transitions"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.capabilities",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'incidentcenter.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if USING_POSTGRES:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The embedded mode: request threads and the in-process job runner write to one SQLite file
    # at once. A write transaction takes the lock when it begins and waits for it (instead of
    # failing with "database is locked"), and WAL lets readers go on while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **DATABASES["default"].get("OPTIONS", {}),
    }
    # Tests on SQLite use a file of their own too (per process, so two runs never share it), not
    # SQLite's shared in-memory database: its table locks fail at once where a file's locks wait,
    # and browser tests have a server, the test and jobs using the database at the same time.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The protected system's database (health probes and backup/restore actions).
TARGET_DATABASE_URL = env_str("TARGET_DATABASE_URL")
# Where the host workers keep backups, the maintenance flag and page, forensic bundles, and where
# the protected website's files live.
BACKUP_DIR = env_path("BACKUP_DIR", VAR_DIR / "backups")
MAINTENANCE_DIR = env_path("MAINTENANCE_DIR", VAR_DIR / "maintenance")
EVIDENCE_DIR = env_path("EVIDENCE_DIR", VAR_DIR / "evidence")
WEB_ROOT = env_path("WEB_ROOT", VAR_DIR / "www")

# --- Remediation actions (apps.remediation; README "Remediation actions") -----------------------
# These are read on each host's worker, where the actions run: what the web side may ask is
# checked again against them there.
# The protected database's application role whose password `reset_credentials` rotates, and the
# file (mode 0600) where the new password is written for the application to read.
TARGET_APP_ROLE = env_str("TARGET_APP_ROLE")
TARGET_SECRET_FILE = env_path("TARGET_SECRET_FILE", VAR_DIR / "secrets" / "target-db-password")
# The service manager `restart_service` uses: "systemctl" or "pm2", and the program to call.
SERVICE_MANAGER = env_str("SERVICE_MANAGER", "systemctl")
if SERVICE_MANAGER not in {"systemctl", "pm2"}:
    raise ImproperlyConfigured(f"SERVICE_MANAGER={SERVICE_MANAGER!r}: use systemctl or pm2")
SERVICE_MANAGER_BIN = env_str("SERVICE_MANAGER_BIN", SERVICE_MANAGER)
# `firewall_lockdown` only shows its ufw commands unless this host enables it.
FIREWALL_BIN = env_str("FIREWALL_BIN", "ufw")
FIREWALL_APPLY = env_bool("FIREWALL_APPLY", default=False)
# The site as visitors reach it: `maintenance_mode` fetches it to prove the page is served.
MAINTENANCE_CHECK_URL = env_str("MAINTENANCE_CHECK_URL")
# Log files `capture_forensics` copies into its bundle (before they rotate).
FORENSIC_LOG_FILES = env_list("FORENSIC_LOG_FILES", [])
# The PostgreSQL client programs (pg_dump, pg_restore), and the prefix of verify_backup's scratch
# databases (created and dropped on the protected database's server).
PG_BIN_DIR = env_str("PG_BIN_DIR")
PG_SCRATCH_PREFIX = env_str("PG_SCRATCH_PREFIX", "ic_verify_")
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", PG_SCRATCH_PREFIX):
    raise ImproperlyConfigured(f"PG_SCRATCH_PREFIX={PG_SCRATCH_PREFIX!r}: lower-case letters, digits and _ only")
# Runs queued but unclaimed this long are sent again; running runs whose worker has not beaten
# for this long are lost.
REMEDIATION_RESEND_SECONDS = env_int("REMEDIATION_RESEND_SECONDS", 30, minimum=1)
REMEDIATION_LOST_SECONDS = env_int("REMEDIATION_LOST_SECONDS", 60, minimum=2)
REMEDIATION_HEARTBEAT_SECONDS = env_int("REMEDIATION_HEARTBEAT_SECONDS", 5, minimum=1)
REMEDIATION_SWEEP_SECONDS = env_int("REMEDIATION_SWEEP_SECONDS", 15, minimum=1)

# --- Redis, channels and Celery ----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")


def channel_prefix_for(redis_url: str) -> str:
    """The default channel prefix: one per Redis database number ("incidentcenter-5" for
    redis://…/5). Redis pub/sub ignores database numbers, so two deployments sharing a server on
    /5 and /4 would otherwise hear each other. Only the number counts, not how the server is
    spelled: a host's worker reaching it as redis://10.0.0.2/5 and the web process as
    redis://127.0.0.1/5 are one deployment and must hear each other (different servers never do)."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(redis_url)
    db = parts.path.strip("/") if parts.scheme in ("redis", "rediss") else ""
    db = db or (parse_qs(parts.query).get("db") or ["0"])[0]
    if not db.isascii() or not db.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL={redis_url!r}: the database number must be a number")
    return f"incidentcenter-{int(db)}"


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group message is published once and each web process hands it to
            # all of its own open pages, instead of one Redis list push and pop per page (which
            # made the health fan-out to 100 pages take 0.6 s at p99). Live updates are never the
            # record, so a message sent while no process listens may be lost: pages reload it.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # redis-py 8 times out socket reads after 5 s and refuses a 101st pooled
                # connection instead of waiting; neither may break a quiet page or a burst of
                # pages opening at once.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "max_connections": env_int("CHANNEL_REDIS_MAX_CONNECTIONS", 2000, minimum=10),
                    }
                ],
                # Per deployment by default (see channel_prefix_for); CHANNEL_PREFIX overrides.
                "prefix": env_str("CHANNEL_PREFIX") or channel_prefix_for(REDIS_URL),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache: the public status page and its JSON (apps.comms) and rate limits. Redis when
# configured, so every process sees one cache; this process's memory otherwise.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "incidentcenter"),
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "incidentcenter"}
    )
}

INCIDENTCENTER_HOST = env_str("INCIDENTCENTER_HOST") or re.sub(
    r"[^a-z0-9-]+", "-", socket.gethostname().split(".")[0].lower()
).strip("-")
if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", INCIDENTCENTER_HOST):
    raise ImproperlyConfigured(
        f"INCIDENTCENTER_HOST={INCIDENTCENTER_HOST!r}: use lower-case letters, digits and hyphens (it names a queue)"
    )

# Where background jobs run, decided here once and read only by apps.core.jobs (the one path for
# jobs): on Celery workers through the Redis broker when REDIS_URL is set, else inside this process
# (the embedded mode of `make run`, and tests on a machine without Redis), where one process is
# every host's worker. Domain code asks apps.core.jobs (`enqueue`, `serves_host`), never REDIS_URL.
JOBS_IN_PROCESS = not REDIS_URL
WORKER_SERVES_EVERY_HOST = JOBS_IN_PROCESS

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# A worker keeps its database connection across tasks (Celery closes it after every task
# otherwise, and a fresh PostgreSQL connection costs ~20 ms before a remediation run can be
# claimed); one that no longer answers is dropped before the next task (incidentcenter/celery.py).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 100, minimum=0) or None
# Every host's worker samples it this often; a host silent for three intervals is unreachable.
HEALTH_SAMPLE_SECONDS = env_int("HEALTH_SAMPLE_SECONDS", 5, minimum=1)
# Workers announce themselves in Redis this often; /readyz treats a key older than the TTL as gone.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1)

# --- Email: Django 6.1's MAILERS. SMTP when EMAIL_HOST is set, else printed to the console -----
# The environment keeps the usual EMAIL_* names (.env.example); Django's EMAIL_* settings are
# deprecated in 6.1 and must not be defined beside MAILERS, hence the lower-case names here.
_smtp_backend = "django.core.mail.backends.smtp.EmailBackend"
_email_host = env_str("EMAIL_HOST")
_email_backend = env_str(
    "EMAIL_BACKEND", _smtp_backend if _email_host else "django.core.mail.backends.console.EmailBackend"
)
# An SMTP server that does not answer within this many seconds fails the send (read by paging too).
MAIL_TIMEOUT_SECONDS = env_int("EMAIL_TIMEOUT", 10, minimum=1)
MAILERS: dict[str, dict[str, object]] = {
    "default": (
        {
            "BACKEND": _smtp_backend,
            "OPTIONS": {
                "host": _email_host or "localhost",
                "port": env_int("EMAIL_PORT", 587, minimum=1),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", default=bool(_email_host)),
                "timeout": MAIL_TIMEOUT_SECONDS,
            },
        }
        if _email_backend == _smtp_backend
        else {"BACKEND": _email_backend}
    )
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Incident Center <incidents@localhost>")
# Absolute links in pages and mails (acknowledgement links, status page, unsubscribe).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Alertmanager webhook (/hooks/alertmanager/) ----------------------------------------------
# Alertmanager sends it as `http_config.authorization.credentials`; unset refuses every webhook.
ALERTMANAGER_TOKEN = env_str("ALERTMANAGER_TOKEN")
# alertname → scenario, and the alert's severity label → SEV level.
ALERTMANAGER_SCENARIOS = env_json_object("ALERTMANAGER_SCENARIOS", {})
ALERTMANAGER_SEVERITIES = env_json_object(
    "ALERTMANAGER_SEVERITIES",
    {"critical": "sev1", "page": "sev1", "error": "sev2", "major": "sev2", "warning": "sev3", "info": "sev4"},
)

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:board"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation: stored in UTC, shown in each user's time zone ----------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# In development and tests static files come straight from the apps and static/.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("PLAIN_STATIC_STORAGE")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Input limits: huge bodies are refused before they reach a form ---------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 400

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=300)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env_bool("BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz and /readyz are probed over plain HTTP by load balancers and orchestrators.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    # htmx injects its indicator style; everything else is in static/css.
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}

# --- Product rules --------------------------------------------------------------------------
CONTACT_VERIFY_DAYS = env_int("CONTACT_VERIFY_DAYS", 90, minimum=1)
RUNBOOK_REVIEW_DAYS = env_int("RUNBOOK_REVIEW_DAYS", 365, minimum=1)
# The seed's Initial Response is immediate: pending initial steps after this are overdue.
INITIAL_RESPONSE_MINUTES = env_int("INITIAL_RESPONSE_MINUTES", 15, minimum=1)
# The seed: monitor the system for 24 hours after an emergency.
RECENTLY_RESOLVED_HOURS = env_int("RECENTLY_RESOLVED_HOURS", 24, minimum=1)

# --- Paging and escalation (apps.paging; README "Paging and escalation") ----------------------
# Declaring an incident pages its scenario's first contact and escalates until someone acknowledges.
PAGING_ON_DECLARE = env_bool("PAGING_ON_DECLARE", default=True)
# Severities whose first page also goes to every level above the first contact on the path.
PAGING_WIDE_SEVERITIES = env_list("PAGING_WIDE_SEVERITIES", ["sev1"])
if bad := [s for s in PAGING_WIDE_SEVERITIES if s not in {"sev1", "sev2", "sev3", "sev4"}]:
    raise ImproperlyConfigured(f"PAGING_WIDE_SEVERITIES: {', '.join(bad)} is not a severity (sev1 … sev4)")
# After the last level, the path is paged again this many times before the incident is unacknowledged.
PAGING_REPEATS = env_int("PAGING_REPEATS", 1, minimum=0)
PAGING_ACK_LINK_HOURS = env_int("PAGING_ACK_LINK_HOURS", 24, minimum=1)
PAGING_HTTP_TIMEOUT_SECONDS = env_int("PAGING_HTTP_TIMEOUT_SECONDS", 10, minimum=1)
# Admin-entered URLs (chat webhooks) may not point at private, loopback or link-local addresses
# unless this is set (a chat server on the private network); apps.core.outbound.
OUTBOUND_ALLOW_PRIVATE = env_bool("OUTBOUND_ALLOW_PRIVATE", default=False)
# The auditor runs escalation steps and deliveries that are late by more than the grace period;
# one late by more than PAGING_OVERDUE_WARN_MINUTES is also a warning on the board.
PAGING_AUDIT_SECONDS = env_int("PAGING_AUDIT_SECONDS", 30, minimum=1)
PAGING_AUDIT_GRACE_SECONDS = env_int("PAGING_AUDIT_GRACE_SECONDS", 20, minimum=1)
PAGING_OVERDUE_WARN_MINUTES = env_int("PAGING_OVERDUE_WARN_MINUTES", 3, minimum=1)
# SMS through an HTTP gateway: POST PAGING_SMS_BODY_TEMPLATE ($to, $message, $sender substituted,
# escaped for the content type) to PAGING_SMS_URL with PAGING_SMS_AUTH_HEADER ("Name: value").
PAGING_SMS_URL = env_str("PAGING_SMS_URL")
PAGING_SMS_AUTH_HEADER = env_str("PAGING_SMS_AUTH_HEADER")
PAGING_SMS_CONTENT_TYPE = env_str("PAGING_SMS_CONTENT_TYPE", "application/json")
PAGING_SMS_BODY_TEMPLATE = env_str("PAGING_SMS_BODY_TEMPLATE", '{"to": "$to", "from": "$sender", "text": "$message"}')
PAGING_SMS_SENDER = env_str("PAGING_SMS_SENDER", "IncidentCtr")
if PAGING_SMS_AUTH_HEADER and ":" not in PAGING_SMS_AUTH_HEADER:
    raise ImproperlyConfigured('PAGING_SMS_AUTH_HEADER must look like "Authorization: Bearer <token>"')
if PAGING_SMS_URL and not PAGING_SMS_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("PAGING_SMS_URL must be an http(s) URL")
# Contact verification: links stay valid this long; admins are reminded every so many days.
PAGING_VERIFY_LINK_DAYS = env_int("PAGING_VERIFY_LINK_DAYS", 14, minimum=1)
PAGING_VERIFY_REMINDER_DAYS = env_int("PAGING_VERIFY_REMINDER_DAYS", 91, minimum=1)

# --- Stakeholder communications and the status page (apps.comms; README "Stakeholder
# communications and the status page") ----------------------------------------------------------
# The next stakeholder update is due this many minutes after the last one, by severity.
COMMS_CADENCE_MINUTES = {
    "sev1": env_int("COMMS_CADENCE_SEV1_MINUTES", 30, minimum=1),
    "sev2": env_int("COMMS_CADENCE_SEV2_MINUTES", 60, minimum=1),
    "sev3": env_int("COMMS_CADENCE_SEV3_MINUTES", 120, minimum=1),
    "sev4": env_int("COMMS_CADENCE_SEV4_MINUTES", 240, minimum=1),
}
# Cadence reminders, mail retries and the cleanup of unconfirmed subscriptions run this often.
COMMS_TICK_SECONDS = env_int("COMMS_TICK_SECONDS", 60, minimum=5)
STATUS_PAGE_NAME = env_str("STATUS_PAGE_NAME", "System status")
# The public page and JSON are rebuilt at the latest this often (and at once on any public change).
STATUS_PAGE_CACHE_SECONDS = env_int("STATUS_PAGE_CACHE_SECONDS", 300, minimum=1)
# How long browsers and proxies may keep them.
STATUS_PAGE_HTTP_MAX_AGE = env_int("STATUS_PAGE_HTTP_MAX_AGE", 15, minimum=0)
# Subscription requests allowed per client address and hour.
COMMS_SUBSCRIBE_PER_HOUR = env_int("COMMS_SUBSCRIBE_PER_HOUR", 5, minimum=1)
COMMS_CONFIRM_HOURS = env_int("COMMS_CONFIRM_HOURS", 48, minimum=1)
# Mail to subscribers: recipients per batch, tries per recipient, first retry delay (doubling).
COMMS_MAIL_BATCH_SIZE = env_int("COMMS_MAIL_BATCH_SIZE", 50, minimum=1)
COMMS_MAIL_MAX_ATTEMPTS = env_int("COMMS_MAIL_MAX_ATTEMPTS", 4, minimum=1)
COMMS_MAIL_RETRY_SECONDS = env_int("COMMS_MAIL_RETRY_SECONDS", 60, minimum=1)

# --- Beat: every periodic job, in one place (Celery beat; the embedded runner in `make run`) -----
# Schedules in seconds. Task names are `<app>.<verb_noun>`, as each task declares.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "health-fan-out-samples": {"task": "health.fan_out_samples", "schedule": float(HEALTH_SAMPLE_SECONDS)},
    "health-compact-history": {"task": "health.compact_history", "schedule": 60.0},
    "remediation-sweep-runs": {"task": "remediation.sweep_runs", "schedule": float(REMEDIATION_SWEEP_SECONDS)},
    "paging-audit-escalations": {"task": "paging.audit_escalations", "schedule": float(PAGING_AUDIT_SECONDS)},
    # Checked every few hours; the last reminder's date is in the database, so restarts never repeat it.
    "paging-send-verification-reminder": {"task": "paging.send_verification_reminder", "schedule": 6 * 3600.0},
    "comms-sweep-communications": {"task": "comms.sweep_communications", "schedule": float(COMMS_TICK_SECONDS)},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

AUTHENTICATION_BACKENDS = ["apps.accounts.backends.RoleBackend"]
