"""Settings, read from the environment in this one place.

Production is the default: debug is off unless ``DJANGO_DEBUG`` says otherwise,
and then ``DJANGO_SECRET_KEY`` is required.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def env_bool(name, default=False):
    """Parse a boolean environment variable strictly: a typo is an error, not a guess."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off).")


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)
# Under debug, 404s show the site's own page like production; 1 brings back Django's technical 404.
KB_DEBUG_TECHNICAL_404 = env_bool("DJANGO_DEBUG_TECHNICAL_404", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-development-key-only-used-with-debug-on"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django_filters",
    "csp",
    "simple_history",
    "axes",
    "kb",
]

MIDDLEWARE = [
    # First: nothing reads the Host before it is checked; a bad one is a 400 and a short warning.
    "kb.site.site_url.HostValidationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above whitenoise, so static files carry the same policy headers as pages.
    "csp.middleware.CSPMiddleware",
    "kb.ops.middleware.CrossOriginResourcePolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Slow requests logged (kb.ops.logs); then, before any cache lookup, only GET/HEAD on public
    # pages (405 with Allow otherwise).
    "kb.ops.logs.SlowRequestMiddleware",
    # Whether this is a public reader's request, decided once (kb.ops.readers) for everything below.
    "kb.ops.readers.ReaderMiddleware",
    "kb.ops.middleware.PublicMethodsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Compresses what the page cache returns, never responses with secrets (kb.ops.compression: BREACH).
    "kb.ops.compression.CompressionMiddleware",
    # A deadline for every database call of a request (kb.ops.db_deadline): a stuck server is a quick 503.
    "kb.ops.db_deadline.DatabaseDeadlineMiddleware",
    # Which database a request reads (kb.ops.db_router): above the page cache, which checks the replica.
    "kb.ops.db_router.ReplicaReadsMiddleware",
    # Below every middleware that adds headers, so cached pages carry them too.
    "kb.ops.page_cache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    # Under DJANGO_DEBUG=1 too, an unknown page is the site's own 404 (kb.site.views.errors).
    "kb.site.views.errors.SiteNotFoundMiddleware",
]

ROOT_URLCONF = "kb.urls"

TEMPLATES = [
    # The public pages (templates/jinja2/): compiled templates, several times faster than Django's engine.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "kb.site.jinja2.environment",
            "context_processors": ["kb.site.context_processors.site"],
        },
    },
    # The admin and django-axes' lockout page (templates/admin/).
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kb.site.context_processors.site",
            ],
        },
    },
]

# Public templates: an undefined variable is an error (tests) or renders empty and is logged (kb.site.jinja2).
KB_STRICT_TEMPLATES = False

WSGI_APPLICATION = "kb.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when their transaction begins, so two writers (two content
    # loads, say) queue up instead of interleaving or failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the server is unreachable: readers get a 503 page, not a hung worker.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(
        os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")
    )

# The replica's connect timeout, also the deadline of its calls (kb.ops.db_deadline): short, so readers fall
# back to the primary without a long wait when it is down.
KB_REPLICA_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_REPLICA_CONNECT_TIMEOUT", "2"))
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=True,
    )
    DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"].get("OPTIONS", {}))
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"]["OPTIONS"]["connect_timeout"] = KB_REPLICA_CONNECT_TIMEOUT
    DATABASE_ROUTERS = ["kb.ops.db_router.PrimaryReplicaRouter"]
# Routing (kb.ops.db_router): after a write (POST ...), that browser reads the primary this many seconds,
# so an editor sees their own change; an unreachable replica is tried again after this many seconds.
KB_REPLICA_PIN_SECONDS = int(os.environ.get("DATABASE_REPLICA_PIN_SECONDS", "30"))
KB_REPLICA_RETRY_SECONDS = int(os.environ.get("DATABASE_REPLICA_RETRY_SECONDS", "10"))
# Deadlines for one database call of a web request (kb.ops.db_deadline): a server that stops answering
# is a 503 after this many seconds, not a hung request. The replica's calls get its connect timeout.
KB_DB_READ_DEADLINE = float(os.environ.get("DATABASE_READ_DEADLINE", "5"))
KB_DB_WRITE_DEADLINE = float(os.environ.get("DATABASE_WRITE_DEADLINE", "30"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Caches: local memory by default, Redis when REDIS_URL is set (shared by every process and host).
# Only bytes go in, tagged with the secret key, and nothing read is unpickled (kb.ops.shared_cache);
# a slow or dead Redis is a miss after these timeouts, never a 500.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "TIMEOUT": 3600,
            "OPTIONS": {
                "serializer": "kb.ops.shared_cache.BytesSerializer",
                "socket_connect_timeout": float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.5")),
                "socket_timeout": float(os.environ.get("REDIS_TIMEOUT", "0.5")),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "TIMEOUT": 3600,
            "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("KB_CACHE_MAX_ENTRIES", "300"))},
        }
    }
# A value bigger than this is not cached (entries x this bounds a process's cache); after a cache
# failure the cache is left alone this many seconds (the pages are built from the database meanwhile).
KB_CACHE_MAX_VALUE_BYTES = int(os.environ.get("KB_CACHE_MAX_VALUE_BYTES", str(2 * 1024 * 1024)))
KB_CACHE_RETRY_SECONDS = float(os.environ.get("KB_CACHE_RETRY_SECONDS", "5"))
KB_PAGE_CACHE = "default"
# How long a whole public page may be cached (0 turns the page cache off); edits invalidate at once.
KB_PAGE_CACHE_SECONDS = int(os.environ.get("KB_PAGE_CACHE_SECONDS", "3600"))
# Comparison cells a process keeps in memory once read (kb.comparison.cell_memo): records of the read model
# never change, so these are never stale; least recently used out past this many (0: none kept).
KB_CELL_MEMO_ENTRIES = int(os.environ.get("KB_CELL_MEMO_ENTRIES", "20000"))
# How long a comparison's link-preview picture is kept (kb.comparison.preview_image); content changes redraw it at once.
KB_PREVIEW_IMAGE_SECONDS = int(os.environ.get("KB_PREVIEW_IMAGE_SECONDS", "86400"))

# Failed logins are throttled by django-axes: after AXES_FAILURE_LIMIT failures for one
# username from one address, that pair is locked out for the cool-off time (HTTP 429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address: REMOTE_ADDR, unless the site is reached only through DJANGO_TRUSTED_PROXY_COUNT
# reverse proxies that each append the address they saw to X-Forwarded-For (nginx's
# $proxy_add_x_forwarded_for). Then django-ipware reads that header from the right: the address the
# nearest proxy saw. A longer chain than that (entries a client made up) is not trusted: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1  # ipware counts the proxies listed in the header
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The knowledge base's own settings.
KB_CONTENT_DIR = BASE_DIR / "content"
# How many subjects one comparison may show side by side (the benchmark raises it to 10).
KB_COMPARE_MAX_SUBJECTS = int(os.environ.get("KB_COMPARE_MAX_SUBJECTS", "8"))
_default_archive = BASE_DIR.parent / "shared" / "sources"
KB_SOURCE_ARCHIVE = Path(os.environ["KB_SOURCE_ARCHIVE"]) if os.environ.get("KB_SOURCE_ARCHIVE") else None
if KB_SOURCE_ARCHIVE is None and _default_archive.is_dir():
    KB_SOURCE_ARCHIVE = _default_archive

# Issue 22: the PostgreSQL server that snippets of subjects whose runner is postgresql run against, each in a
# transaction rolled back at its end (kb.evidence.snippet_runners). Unset: those snippets are "not run here".
KB_SNIPPET_POSTGRES_URL = os.environ.get("KB_SNIPPET_POSTGRES_URL", "")

# Security ----------------------------------------------------------------------
# Production mode (debug off) is strict by default. Serving the production stack over
# plain HTTP on a laptop needs the explicit opt-out DJANGO_INSECURE_HTTP=1.
INSECURE_HTTP = env_bool("DJANGO_INSECURE_HTTP", default=False)
_https = not DEBUG and not INSECURE_HTTP
SECURE_SSL_REDIRECT = _https
SECURE_HSTS_SECONDS = 31_536_000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    # Only behind a proxy that sets this header itself (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_NONE],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "form-action": [_SELF],
        "manifest-src": [_SELF],
        "base-uri": [_NONE],
        "frame-ancestors": [_NONE],
        "object-src": [_NONE],
    }
}

# Site origin, hosts, logs (h14b) ------------------------------------------------------------
# The public origin: every absolute URL (canonical, Open Graph, sitemap, feeds, exports) is built
# on it, never on the request's Host. The default suits `make run`; production sets its own.
KB_SITE_URL = os.environ.get("KB_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# DJANGO_ALLOWED_HOSTS entries may name a port ("example.org:8443"): Django compares names only,
# kb.site.site_url checks the port too (none, 80, 443, KB_SITE_URL's port, or one named here).
KB_ALLOWED_HOST_PORTS = {host.lower() for host in ALLOWED_HOSTS if host.rsplit(":", 1)[-1].isdigit()}
ALLOWED_HOSTS = [host.rsplit(":", 1)[0] if host in KB_ALLOWED_HOST_PORTS else host for host in ALLOWED_HOSTS]
# An HTTP/1.1 request without a Host header is refused (400).
KB_REQUIRE_HOST_HEADER = True

# The production server (kb.ops.server, `make serve`: gunicorn's processes running waitress): where it
# listens, its processes (sharing the listening sockets; one per core), each process's threads (the
# requests it serves at once; waitress reads each request whole before a thread sees it) and open
# connections (slow ones included).
SERVER_LISTEN = os.environ.get("KB_SERVER_LISTEN", "127.0.0.1:8000")
SERVER_PROCESSES = int(os.environ.get("KB_SERVER_PROCESSES", str(os.cpu_count() or 1)))
SERVER_THREADS = int(os.environ.get("KB_SERVER_THREADS", "4"))
SERVER_CONNECTION_LIMIT = int(os.environ.get("KB_SERVER_CONNECTION_LIMIT", "1000"))
SERVER_MAX_BODY_BYTES = int(os.environ.get("KB_SERVER_MAX_BODY_BYTES", str(10 * 1024 * 1024)))
SERVER_ACCESS_LOG = env_bool("KB_ACCESS_LOG", default=True)

# One-line records to standard error: request errors with path, status and traceback (django.request),
# slow requests (kb.ops.logs.SlowRequestMiddleware), and the knowledge base's own summaries ("kb.*" loggers:
# load_content, capture_source ...: logging.getLogger("kb.content") etc.).
LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper()
# Requests slower than this many milliseconds are logged as warnings (0 turns it off).
SLOW_REQUEST_MS = int(os.environ.get("DJANGO_SLOW_REQUEST_MS", "1000"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"()": "kb.ops.logs.OneLineFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
        # 4xx are the client's business; 5xx (with their traceback) are ours.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
        "kb": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
    },
}
