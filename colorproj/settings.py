"""Settings for both modes, chosen by environment variables.

Embedded (default): SQLite, in-memory channel layer, background jobs in worker threads.
Distributed: DATABASE_URL=postgres://... and REDIS_URL=redis://... select PostgreSQL, the
Redis channel layer and Celery workers (queues "preview" and "batch").
"""
import contextlib
import os
import secrets
import tempfile
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlsplit

import PIL.Image
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COLORPROJ_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)



def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value in (None, "") else value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# COLORPROJ_PRODUCTION=1 turns on the hardened profile (checked by `manage.py check --deploy`):
# a real secret and explicit hosts are required, cookies are secure, HTTPS is enforced.
PRODUCTION = env_flag("COLORPROJ_PRODUCTION", False)
DEBUG = env_flag("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("COLORPROJ_PRODUCTION=1 with DJANGO_DEBUG=1: debug pages would leak internals")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if PRODUCTION:
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or "insecure" in SECRET_KEY:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))')")
elif not SECRET_KEY:
    # Development: a random key per installation, kept out of the repository.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        with contextlib.suppress(FileExistsError):
            with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write(secrets.token_urlsafe(64))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "*")
if PRODUCTION and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the site's host names in production (no '*')")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# HTTPS. Behind a TLS-terminating proxy set COLORPROJ_BEHIND_PROXY=1 (it must set X-Forwarded-Proto
# and strip it from clients); COLORPROJ_SSL_REDIRECT=0 when the proxy redirects to HTTPS itself.
HTTPS = env_flag("COLORPROJ_HTTPS", PRODUCTION)
if env_flag("COLORPROJ_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_flag("COLORPROJ_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("COLORPROJ_HSTS_SECONDS", str(365 * 86400 if HTTPS else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("COLORPROJ_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_flag("COLORPROJ_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("COLORPROJ_SESSION_SECONDS", str(14 * 86400)))
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "annotations",
    "tools",
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
    "colorproj.security.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into a 429 page
]

# Content security policy (django-csp): scripts only from this site (plain ES modules; templates may
# opt in to an inline block with nonce="{{ request.csp_nonce }}"), images also from data:/blob:
# (canvas exports, previews), sockets and fetches to the same origin, no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Pages that still embed inline <script> blocks (see colorproj.security.ContentSecurityPolicyMiddleware).
CSP_INLINE_SCRIPT_PREFIXES = ["/api/redoc/"]

ROOT_URLCONF = "colorproj.urls"
ASGI_APPLICATION = "colorproj.asgi.application"
WSGI_APPLICATION = None

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


# --- Database ----------------------------------------------------------------------------------

def database_from_url(url: str) -> dict:
    """postgres://user:password@host:port/name -> a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres://)")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "colorproj",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 0,
        "TEST": {"NAME": os.environ.get("COLORPROJ_TEST_DB", "test_colorproj")},
    }


DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("COLORPROJ_SQLITE", VAR_DIR / "db.sqlite3"),
            # Worker threads write too: WAL lets readers go on, IMMEDIATE takes the write lock
            # at BEGIN so concurrent transactions queue instead of failing on lock upgrade.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 30},
            "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"colorproj-test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Channels, jobs, Celery --------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
# Keeps several installations (or test runs) apart on one Redis server.
REDIS_PREFIX = os.environ.get("COLORPROJ_REDIS_PREFIX", "colorproj")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's default 5 s socket timeout equals channels_redis' 5 s blocking read:
            # without a longer one, every idle consumer would be dropped.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": f"{REDIS_PREFIX}:channels"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# "embedded": in-process worker threads; "celery": tasks on the Celery queues.
JOBS_MODE = os.environ.get("COLORPROJ_JOBS", "celery" if REDIS_URL else "embedded")
JOBS_THREADS = {"preview": int(os.environ.get("COLORPROJ_PREVIEW_THREADS", "2")),
                "batch": int(os.environ.get("COLORPROJ_BATCH_THREADS", "1"))}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# A job whose worker died unacknowledged is handed out again after the visibility timeout;
# every job is idempotent, so lower it where jobs are short and a quick takeover matters.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
    "visibility_timeout": int(os.environ.get("COLORPROJ_VISIBILITY_TIMEOUT", "3600")),
    "unacked_restore_interval": int(os.environ.get("COLORPROJ_RESTORE_INTERVAL", "10")),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_DEFAULT_QUEUE = "batch"
CELERY_TASK_ACKS_LATE = True  # a job on a worker that dies is handed to another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True

# Queues of ingests and renders in distributed mode (e.g. "render" for dedicated GPU workers), the
# render's engine methods (the CNNs; "levin" / "flow" are the classical methods) and the
# image-sequence numbering.
COLORPROJ_RENDER_QUEUE = os.environ.get("COLORPROJ_RENDER_QUEUE", "batch")
COLORPROJ_INGEST_QUEUE = os.environ.get("COLORPROJ_INGEST_QUEUE", "batch")
COLORPROJ_RENDER_KEYFRAME_METHOD = os.environ.get("COLORPROJ_RENDER_KEYFRAME_METHOD", "cnn")
COLORPROJ_RENDER_PROPAGATION_METHOD = os.environ.get("COLORPROJ_RENDER_PROPAGATION_METHOD", "cnn")
COLORPROJ_SEQUENCE_START = int(os.environ.get("COLORPROJ_SEQUENCE_START", "1001"))
# The shot page's keyframe suggestions hold every frame's expected propagation confidence at this
# level or more (annotations.keyframes.plan); the page lets the annotator change it.
COLORPROJ_KEYFRAME_CONFIDENCE = float(os.environ.get("COLORPROJ_KEYFRAME_CONFIDENCE", "0.5"))
# Embedded mode: run each batch job (ingest, render steps) in a child process, so a native crash or
# an out-of-memory kill fails that job instead of the web server. "0" runs them in the server's
# threads (a native crash in a decoder then takes the studio down).
COLORPROJ_JOB_PROCESSES = os.environ.get("COLORPROJ_JOB_PROCESSES", "1") == "1"
# Names of batch jobs whose child process crashes itself (SIGSEGV) as it starts: the fault tests'
# stand-in for a native crash in a decoder or an engine. Empty in production.
COLORPROJ_CRASH_JOBS: tuple[str, ...] = ()


# --- Media, uploads ----------------------------------------------------------------------------

MEDIA_ROOT = Path(os.environ.get("COLORPROJ_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served publicly: frames go through permission-checked views
STORAGES = {
    "default": {"BACKEND": os.environ.get("COLORPROJ_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploads stream to a temporary file on disk; nothing is held whole in memory.
FILE_UPLOAD_HANDLERS = ["annotations.uploads.LimitedTemporaryFileUploadHandler"]
FILE_UPLOAD_TEMP_DIR = os.environ.get("COLORPROJ_UPLOAD_TMP") or None
COLORPROJ_MAX_UPLOAD_BYTES = int(os.environ.get("COLORPROJ_MAX_UPLOAD_BYTES", str(20 * 2**30)))
# Any request declaring a longer body is refused (413) before the body is read (colorproj.server):
# the largest upload plus its multipart form.
COLORPROJ_MAX_REQUEST_BYTES = COLORPROJ_MAX_UPLOAD_BYTES + 65536
# Frames over this many pixels are refused at upload, by their header (a decoded frame of a hostile
# 100000x100000 file would exhaust memory); the default admits 8K scans (8192x8192). The image
# decoder refuses more than twice Pillow's bomb threshold (178956970 pixels; a 16384x16384 frame is
# over it), so a larger setting would promise what is not accepted: refused here.
COLORPROJ_MAX_FRAME_PIXELS = int(os.environ.get("COLORPROJ_MAX_FRAME_PIXELS", str(8192 * 8192)))
if COLORPROJ_MAX_FRAME_PIXELS > 2 * PIL.Image.MAX_IMAGE_PIXELS:
    raise ImproperlyConfigured(f"COLORPROJ_MAX_FRAME_PIXELS is at most {2 * PIL.Image.MAX_IMAGE_PIXELS}")
# Who may create projects (and so become their manager): "staff" (staff accounts and users given the
# annotations.add_project permission) or "anyone" signed in.
COLORPROJ_PROJECT_CREATORS = os.environ.get("COLORPROJ_PROJECT_CREATORS", "staff")
if COLORPROJ_PROJECT_CREATORS not in ("staff", "anyone"):
    raise ImproperlyConfigured("COLORPROJ_PROJECT_CREATORS must be 'staff' or 'anyone'")
COLORPROJ_SEQUENCE_FRAME_RATE = Fraction(os.environ.get("COLORPROJ_SEQUENCE_FRAME_RATE", "24"))
COLORPROJ_PROXY_LONG_SIDE = int(os.environ.get("COLORPROJ_PROXY_LONG_SIDE", "960"))
COLORPROJ_THUMB_LONG_SIDE = 320
COLORPROJ_FILMSTRIP_TILES = 24


# --- Auth, API ---------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Login throttling (django-axes): after COLORPROJ_LOGIN_FAILURES failed logins for one username from
# one address, that pair is locked out for COLORPROJ_LOGIN_COOLOFF_MINUTES, on the login page and on
# the token endpoint alike (both authenticate through AxesBackend).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("COLORPROJ_LOGIN_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("COLORPROJ_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "colorproj.security.lockout_response"
# Behind proxies, the client address is the left-most entry the trusted proxies appended.
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("COLORPROJ_PROXY_COUNT", "1" if env_flag("COLORPROJ_BEHIND_PROXY", False) else "0")) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotations.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
    # Scoped rates: "login" throttles POST /api/auth/token/ per client address.
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("COLORPROJ_TOKEN_RATE", "20/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "colorproj API",
    "DESCRIPTION": "Projects, footage, shots, keyframes, hint revisions and color references.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves static files in every mode. With DEBUG off (production, `make start`) it serves
# what `manage.py collectstatic` gathered in STATIC_ROOT, compressed (gzip/brotli) beside the
# originals; with DEBUG on, or COLORPROJ_STATIC_FINDERS=1 (the tests' servers), straight from the
# apps' and static/ folders, so no collect step is needed while editing.
WHITENOISE_USE_FINDERS = env_flag("COLORPROJ_STATIC_FINDERS", DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"colorproj": {"handlers": ["console"], "level": "INFO"},
                "annotations": {"handlers": ["console"], "level": "INFO"}},
}
