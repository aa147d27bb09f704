"""Playground settings: one file, driven by environment variables.

Defaults are the embedded shape (SQLite, in-memory channel layer, local-memory
cache, the embedded model). Production sets DATABASE_URL, REDIS_URL,
SECRET_KEY, ALLOWED_HOSTS and PLAYGROUND_HTTPS=1.
"""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=""):
    return os.environ.get(name, default)


def envbool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envlist(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# Everything the embedded shape writes (database, generated keys) lives here.
DATA_DIR = Path(env("PLAYGROUND_DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def generated_secret(filename, make):
    """Read a secret from DATA_DIR, creating it once: a fresh install needs no
    configuration, yet the secret survives restarts and is never in the code."""
    path = DATA_DIR / filename
    if not path.exists():
        # Written whole under a private name, then linked into place: two
        # processes starting at once on a fresh install (the server and the
        # evaluation worker) both read the one secret that won, never a
        # half-written file.
        fd, draft = tempfile.mkstemp(dir=DATA_DIR, prefix=f".{filename}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(make())
                f.flush()
                os.fsync(f.fileno())  # whole on disk before it has its name
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            except OSError:  # no hard links on this filesystem (some network mounts)
                if not path.exists():
                    os.replace(draft, path)
        finally:
            if os.path.exists(draft):
                os.unlink(draft)
    secret = path.read_text().strip()
    if not secret:
        raise RuntimeError(f"{path} is empty: delete it and start again to generate a new one")
    return secret


SECRET_KEY = env("SECRET_KEY") or generated_secret("secret_key", lambda: secrets.token_urlsafe(50))
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's with an ASGI one.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "apps.accounts",
    "apps.catalog",
    "apps.providers",
    "apps.inference",
    "apps.history",
    "apps.studio",
    "apps.presets",
    "apps.gateway",
    "apps.compare",
    "apps.cases",
    "apps.evals",
    "django_tasks",
    "django_tasks_db",
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
    # Last, as django-axes asks: it turns a locked-out sign-in into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "playground.urls"
ASGI_APPLICATION = "playground.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'playground.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per process: the websocket consumers' database thread and each
    # request's thread take a ready connection instead of opening one (a
    # PostgreSQL connect costs more than a run's whole prepare step).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(env("DB_POOL_SIZE", "10")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Keep the consumers' database thread's connection: opening a SQLite
    # connection (and Django's per-connection set-up) cost ~5 ms a run.
    DATABASES["default"]["CONN_MAX_AGE"] = int(env("DB_CONN_MAX_AGE", "60"))
    # A file, not memory: the browser tests' server process shares it. One
    # per test process, so two test runs in one checkout never collide.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
    # Concurrent readers while a run is being written.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL: readers never wait for the writer. NORMAL: commit without an
            # fsync per transaction (WAL stays consistent; a power cut may lose
            # the last commits, not corrupt the file).
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )

REDIS_URL = env("REDIS_URL")
# channels-redis waits for a socket's next message with a blocking BZPOPMIN of
# RedisChannelLayer.brpop_timeout (5 s in 4.3.0) and simply repeats it when
# nothing came. redis-py 8 reads every reply with a default socket_timeout of
# 5 s (it was unlimited before 8.0), so an idle socket's wait timed out on the
# client first and every websocket quiet for ~5 s was closed with 1011. The
# read timeout must outlast the blocking pop plus Redis's own lateness; three
# times it still notices a dead Redis within seconds.
# (apps/studio/tests/test_idle_socket.py holds both to it.)
CHANNEL_LAYER_SOCKET_TIMEOUT = 15
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}],
            },
        }
    }
    # The cache sends no blocking command: redis-py's 5 s read timeout is
    # right for it (a rate-limit check should fail fast, not hang).
    CACHES = {
        "default": {
            # Django's RedisCache on one pool and one client for the process,
            # not one per request (redis_pool.py).
            "BACKEND": "playground.redis_pool.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Rendered template fragments that depend only on the code (the playground's
# parameter controls): per process, so a deploy never serves an old one.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "OPTIONS": {"MAX_ENTRIES": 1000},
}

# The run engine's cross-process messages (apps/runs/hub.py): the same
# backend, a layer instance of its own (channels-redis serializes each
# layer's receives under one lock).
CHANNEL_LAYERS["runs"] = CHANNEL_LAYERS["default"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords
# for one username from one address, that pair is locked out for
# LOGIN_COOLOFF_MINUTES (the site's and the admin's sign-in alike). Per user
# *and* address: a stranger failing on purpose cannot lock the real user out
# from everywhere. Staff unlock early in admin (Axes > Access attempts:
# delete the attempt). Attempts are kept in the database, which every process
# shares. Behind a proxy, run daphne with --proxy-headers so the address is
# the client's, not the proxy's.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(env("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.locked_out"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Static files straight from the source folders, no collectstatic step: for
# development and for the test suite's live server.
if DEBUG or envbool("PLAYGROUND_STATIC_FROM_SOURCE", False):
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True

# Behind TLS (a reverse proxy that terminates it): secure cookies, HSTS,
# redirect to https. Off for the embedded shape on http://127.0.0.1:8000.
if envbool("PLAYGROUND_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)

# The most a gateway key's owner may allow it (each key's own limits are set
# on the API keys page, at most these; a key without its own gets these).
# 0: no maximum.
GATEWAY_MAX_REQUESTS_PER_MINUTE = int(env("GATEWAY_MAX_REQUESTS_PER_MINUTE", "600"))
GATEWAY_MAX_TOKENS_PER_DAY = int(env("GATEWAY_MAX_TOKENS_PER_DAY", "1000000"))

# Encryption keys for secrets at rest (provider API keys): a comma-separated
# list, newest first, so keys rotate without downtime (MultiFernet).
FERNET_KEYS = envlist("FERNET_KEYS") or [
    generated_secret(
        "fernet_key",
        lambda: Fernet.generate_key().decode(),
    )
]

# The embedded model: llama.cpp's server on loopback, started on first use.
PLAYGROUND_LOCAL_MODEL = envbool("PLAYGROUND_LOCAL_MODEL", True)

# The run engine (apps/runs). A streaming run's output is written at most
# every RUN_CHECKPOINT_SECONDS (a killed process loses at most that much); a
# playground run nobody watches any more goes on for RUN_GRACE_SECONDS (a
# reload picks it up) before it is kept as interrupted; a server process
# vouches for its runs for RUN_LEASE_SECONDS at a time (renewed every third of
# it), after which a run whose process died is kept as interrupted.
RUN_CHECKPOINT_SECONDS = float(env("PLAYGROUND_RUN_CHECKPOINT_SECONDS", "1"))
RUN_GRACE_SECONDS = float(env("PLAYGROUND_RUN_GRACE_SECONDS", "20"))
RUN_LEASE_SECONDS = float(env("PLAYGROUND_RUN_LEASE_SECONDS", "15"))
# The lease keeper thread runs in server processes (asgi.py); the test runner
# turns it off for itself (conftest.py), its live servers keep it.
RUN_KEEPER = envbool("PLAYGROUND_RUN_KEEPER", True)

# Evaluation batches (apps/evals): cells are queued in django-tasks' database
# backend and run by `manage.py evals_worker` (threads per process below). A
# worker vouches for its running cells for EVALS_LEASE_SECONDS at a time.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
EVALS_WORKER_THREADS = int(env("EVALS_WORKER_THREADS", "16"))
EVALS_LEASE_SECONDS = float(env("EVALS_LEASE_SECONDS", "15"))

# The largest request a client may send: a /v1 body or a websocket message.
PLAYGROUND_MAX_MESSAGE_BYTES = int(env("PLAYGROUND_MAX_MESSAGE_BYTES", str(2_621_440)))
DATA_UPLOAD_MAX_MEMORY_SIZE = PLAYGROUND_MAX_MESSAGE_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every request URL at INFO; URLs may carry credentials.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
