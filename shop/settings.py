"""Settings, read from the environment.

Every variable has a default that makes development work with no ``.env``:
SQLite in ``var/``, the offline sandbox payment provider and e-mails written
to files in ``var/mail/``. With ``DEBUG`` off the settings turn strict: a real
secret key, explicit hosts and HTTPS-only cookies are required.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env(
    DEBUG=(bool, True),
    SECRET_KEY=(str, ""),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    DATABASE_URL=(str, f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
    EMAIL_URL=(str, ""),
    DEFAULT_FROM_EMAIL=(str, "Boutique <boutique@example.com>"),
    PAYMENTS_PROVIDER=(str, "sandbox"),
    SHOP_BASE_URL=(str, ""),
    SECURE_HSTS_SECONDS=(int, 60 * 60 * 24 * 365),
    LOG_LEVEL=(str, "INFO"),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY is too weak: use at least 50 random characters.")

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks_db",
    "axes",
    "shop",
    "orders",
    "payments",
    "payments.providers.sandbox",
    "worker",
]

MIDDLEWARE = [
    "shop.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (Django's, with Stripe's hosts when it is on),
    # Permissions-Policy, no Server header.
    "shop.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # 400 for a NUL byte or an integer beyond 64 bits anywhere in the request.
    "shop.security.RejectUnreadableInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "worker.middleware.PeriodicOverdueWarningMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.storefront",
            ],
        },
    },
]

# Plain <input> widgets written in Python, not through two templates each
# (shop/form_renderer.py); every other widget through Django's templates.
FORM_RENDERER = "shop.form_renderer.ShopFormRenderer"

DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # A worker and the web server share the file: wait for locks instead of
    # failing, and take the write lock at BEGIN so transactions never upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords
# for one username, or from one IP address, within AXES_COOLOFF_MINUTES, that
# username (or address) is refused until the cool-off has passed, even with the
# right password. Attempts are listed for superusers under Axes in the admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "shop.security.client_ip"
# How many reverse proxies of ours stand in front of the app: the client's
# address is read that many places from the right of X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The worker (manage.py worker): tasks run at once per process (SQLite
# serialises writes, so one there), its heartbeat, and when a silent worker
# counts as dead and its tasks are queued again.
TASK_WORKER_THREADS = env.int(
    "TASK_WORKER_THREADS",
    default=1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 8,
)
TASK_WORKER_HEARTBEAT_SECONDS = env.int("TASK_WORKER_HEARTBEAT_SECONDS", default=5)
TASK_WORKER_DEAD_AFTER_SECONDS = env.int("TASK_WORKER_DEAD_AFTER_SECONDS", default=30)
if not 0 < TASK_WORKER_HEARTBEAT_SECONDS < TASK_WORKER_DEAD_AFTER_SECONDS:
    raise ImproperlyConfigured(
        "TASK_WORKER_DEAD_AFTER_SECONDS must be longer than TASK_WORKER_HEARTBEAT_SECONDS."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# E-mail: files you can read in development (var/mail/); in production
# EMAIL_URL, in any scheme django-environ documents: smtp:// smtps://
# smtp+tls:// smtp+ssl:// (user:password@host:port), consolemail://,
# filemail:///absolute/folder, memorymail://, dummymail://.
EMAIL_URL = env("EMAIL_URL")


def _mailer(url: str) -> dict:
    """The MAILERS entry for an EMAIL_URL: each backend gets only the options it takes."""
    config = env.email_url_config(url)
    backend = config["EMAIL_BACKEND"]
    if backend.endswith(".smtp.EmailBackend"):
        if not config["EMAIL_HOST"]:
            raise ImproperlyConfigured("EMAIL_URL names no host: smtp+tls://user:password@host:587")
        options = {
            "host": config["EMAIL_HOST"],
            "port": config["EMAIL_PORT"],
            "username": config["EMAIL_HOST_USER"] or "",
            "password": config["EMAIL_HOST_PASSWORD"] or "",
            "use_tls": config.get("EMAIL_USE_TLS", False),
            "use_ssl": config.get("EMAIL_USE_SSL", False),
            "timeout": 20,
        }
    elif backend.endswith(".filebased.EmailBackend"):
        # django-environ drops the leading "/" of filemail:///folder: read it here.
        parts = urlsplit(url)
        folder = Path(parts.netloc + parts.path) if parts.netloc or parts.path else VAR_DIR / "mail"
        options = {"file_path": str(folder if folder.is_absolute() else BASE_DIR / folder)}
    else:
        options = {}
    return {"BACKEND": backend, "OPTIONS": options}


if EMAIL_URL:
    try:
        MAILERS = {"default": _mailer(EMAIL_URL)}
    except (ValueError, KeyError) as error:
        raise ImproperlyConfigured(
            f"EMAIL_URL is not a URL django-environ reads: {error}"
        ) from None
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
# A worker sending a customer e-mail holds it this long; if it dies meanwhile,
# another run sends it (with the same Message-ID) once the claim lapses.
CUSTOMER_EMAIL_CLAIM_SECONDS = env.int("CUSTOMER_EMAIL_CLAIM_SECONDS", default=60)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Cache and sessions: no session row is read or written per request. With
# CACHE_URL (redis://host:6379/0, shared by every web process and worker) the
# sessions live in that cache; without it, in signed cookies (the cart and the
# checkout's progress are small), so development and several local processes
# need nothing.
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content Security Policy, enforced on every response: only the shop's own
# scripts, styles, images and fonts; no inline script or style (a nonce where
# Django's admin needs one); no framing; forms post only to the shop (the
# sandbox's pages are the shop's own). Stripe's hosts are added only when
# PAYMENTS_PROVIDER=stripe (SECURE_CSP_STRIPE, applied per response by
# shop.security.SecurityHeadersMiddleware), as Stripe's security guide lists them.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.NONE],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CSP_STRIPE = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
    "img-src": ["https://*.stripe.com"],
}
# Browser features: the Payment Request API for the shop itself (wallets; and
# Stripe's frame when Stripe is on), no camera, microphone or location.
PERMISSIONS_POLICY = "payment=(self), camera=(), microphone=(), geolocation=(), usb=()"
PERMISSIONS_POLICY_STRIPE = (
    'payment=(self "https://js.stripe.com"), camera=(), microphone=(), geolocation=(), usb=()'
)

if not DEBUG:
    if not EMAIL_URL:
        raise ImproperlyConfigured("EMAIL_URL must be set when DEBUG is off.")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Payments ------------------------------------------------------------------
PAYMENTS_PROVIDER = env("PAYMENTS_PROVIDER")
if PAYMENTS_PROVIDER not in {"sandbox", "stripe"}:
    raise ImproperlyConfigured(
        f"PAYMENTS_PROVIDER={PAYMENTS_PROVIDER!r} is not available; use 'sandbox' or 'stripe'."
    )
# The sandbox takes no real money: with DEBUG off it runs only on a site that
# says it is a demonstration (PAYMENTS_SANDBOX_DEMO=True), never by default.
PAYMENTS_SANDBOX_DEMO = env.bool("PAYMENTS_SANDBOX_DEMO", default=False)
if PAYMENTS_PROVIDER == "sandbox" and not DEBUG and not PAYMENTS_SANDBOX_DEMO:
    raise ImproperlyConfigured(
        "PAYMENTS_PROVIDER=sandbox takes no real payment: with DEBUG off use stripe, "
        "or set PAYMENTS_SANDBOX_DEMO=True for a demonstration site."
    )
# The sandbox answers each call after this many milliseconds, as a remote
# service would (0: at once); for load tests of the worker's concurrency.
SANDBOX_LATENCY_MS = env.int("SANDBOX_LATENCY_MS", default=0)
if SANDBOX_LATENCY_MS < 0:
    raise ImproperlyConfigured("SANDBOX_LATENCY_MS must be 0 or more (milliseconds).")
# Stripe (PAYMENTS_PROVIDER=stripe): the three keys from the Dashboard, checked
# here so a typo stops the start, not the first order. Values are never echoed.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_KEY_FORMATS = {
    "STRIPE_SECRET_KEY": (r"(sk|rk)_(test|live)_[0-9A-Za-z]{16,}", "sk_live_… or sk_test_…"),
    "STRIPE_PUBLISHABLE_KEY": (r"pk_(test|live)_[0-9A-Za-z]{16,}", "pk_live_… or pk_test_…"),
    "STRIPE_WEBHOOK_SECRET": (r"whsec_[0-9A-Za-z+/=]{16,}", "whsec_…"),
}
if PAYMENTS_PROVIDER == "stripe":
    for name, (pattern, expected) in STRIPE_KEY_FORMATS.items():
        value = globals()[name]
        if not value:
            raise ImproperlyConfigured(f"{name} must be set when PAYMENTS_PROVIDER=stripe.")
        if not re.fullmatch(pattern, value):
            raise ImproperlyConfigured(f"{name} is malformed: expected {expected}.")
    if ("_live_" in STRIPE_SECRET_KEY) != ("_live_" in STRIPE_PUBLISHABLE_KEY):
        raise ImproperlyConfigured(
            "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY must both be live keys or both test keys."
        )
# Each call to Stripe: seconds to connect and to wait for the answer, and how
# many times the library retries a network failure (with the same idempotency key).
STRIPE_CONNECT_TIMEOUT_SECONDS = env.float("STRIPE_CONNECT_TIMEOUT_SECONDS", default=5)
STRIPE_READ_TIMEOUT_SECONDS = env.float("STRIPE_READ_TIMEOUT_SECONDS", default=30)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Webhook events older than this (by their signature's timestamp) are refused.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# The address in e-mailed links: required in production (otherwise they would
# point at 127.0.0.1), an http(s) URL with no path.
SHOP_BASE_URL = env("SHOP_BASE_URL").rstrip("/")
if not SHOP_BASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SHOP_BASE_URL must be set when DEBUG is off: the shop's public address, "
            "e.g. https://shop.example.com (e-mailed links start with it)."
        )
    SHOP_BASE_URL = "http://127.0.0.1:8000"
elif not re.fullmatch(r"https?://[^/\s?#]+", SHOP_BASE_URL):
    raise ImproperlyConfigured(
        f"SHOP_BASE_URL={SHOP_BASE_URL!r} is not a site address such as https://shop.example.com."
    )
elif not DEBUG and not SHOP_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured("SHOP_BASE_URL must start with https:// when DEBUG is off.")
# "Find my order": requests allowed per address and per IP within the window.
SHOP_FIND_ORDER_PER_EMAIL = 3
SHOP_FIND_ORDER_PER_IP = 10
SHOP_FIND_ORDER_WINDOW_SECONDS = 60 * 60
SHOP_CURRENCY = "EUR"
# The company behind the shop, shown on the legal pages (terms of sale, legal
# notice, returns, contact, privacy) and as the merchant on the payment page.
# PLACEHOLDERS: replace every value with the real company's before going live.
SHOP_COMPANY = {
    "trade_name": env.str("SHOP_TRADE_NAME", default="Boutique"),
    "legal_name": "Boutique Exemple SAS",
    "legal_form": "SAS (société par actions simplifiée)",
    "share_capital": "10 000 €",
    "address": "12 rue de l'Exemple, 75011 Paris, France",
    "registration": "RCS Paris 000 000 000",
    "vat_number": "FR00 000000000",
    "publication_director": "Camille Exemple",
    "email": "contact@boutique.example",
    "phone": "+33 1 00 00 00 00",
    "host": "Hébergeur Exemple SAS, 1 avenue de l'Hébergement, 59100 Roubaix, France, +33 9 00 00 00 00",
    "mediator": "Médiateur Exemple de la consommation, 1 rue de la Médiation, 75008 Paris, https://mediateur.example",
    "privacy_email": "privacy@boutique.example",
}
# The language the catalogue (product names, descriptions, alt texts) is written in:
# marked with lang="…" on pages shown in another language.
SHOP_CATALOGUE_LANGUAGE = "fr"
# How often the capture task retries a provider that does not answer.
PAYMENTS_CAPTURE_MAX_ATTEMPTS = env.int("PAYMENTS_CAPTURE_MAX_ATTEMPTS", default=6)
PAYMENTS_CAPTURE_RETRY_BASE_SECONDS = env.int("PAYMENTS_CAPTURE_RETRY_BASE_SECONDS", default=30)
# How long an authorization lasts, per method, in days (e.g. "card=7"); the
# defaults follow the card networks (payments/methods.py).
PAYMENTS_AUTHORIZATION_DAYS = {
    method: int(days)
    for method, days in env.dict("PAYMENTS_AUTHORIZATION_DAYS", default={}).items()
}
# Staff are warned when an authorization with something left to capture
# expires within this many hours; who receives the warning.
PAYMENTS_EXPIRY_WARNING_HOURS = env.int("PAYMENTS_EXPIRY_WARNING_HOURS", default=48)
STAFF_NOTIFICATION_EMAIL = env.list("STAFF_NOTIFICATION_EMAIL", default=["staff@example.com"])
# A card session (sandbox) or ConfirmationToken (Stripe) is usable by the checkout
# that opened it for this long.
PAYMENTS_CARD_SESSION_MINUTES = env.int("PAYMENTS_CARD_SESSION_MINUTES", default=30)
# Card-testing limits (shop/checkout/limits.py): payment attempts per checkout session,
# IP address, e-mail and card, and the shop's declines, each as (attempts, seconds) over a
# sliding window; override one with e.g. CHECKOUT_ATTEMPT_LIMITS="ip=30/3600,declines=40/60".
CHECKOUT_ATTEMPT_LIMITS = {
    "session": (5, 15 * 60),
    "ip": (20, 60 * 60),
    "email": (6, 60 * 60),
    "card": (3, 60 * 60),
    "declines": (30, 60),
} | {
    name: tuple(int(part) for part in value.split("/"))
    for name, value in env.dict("CHECKOUT_ATTEMPT_LIMITS", default={}).items()
}
# A money operation with no news for this long is re-enqueued (its worker died).
PAYMENTS_STALE_OPERATION_MINUTES = env.int("PAYMENTS_STALE_OPERATION_MINUTES", default=60)
# Stock held by a payment waiting for the shopper (3-D Secure, PayPal, Alipay,
# wallet pages) is released, and the authorization cancelled, after this long.
PAYMENTS_PENDING_HOLD_MINUTES = env.int("PAYMENTS_PENDING_HOLD_MINUTES", default=15)
# The payments check runs this often wherever a worker runs (worker.periodic).
PAYMENTS_CHECK_INTERVAL_SECONDS = env.int("PAYMENTS_CHECK_INTERVAL_SECONDS", default=60)


def _days(name: str, default: int) -> int:
    """A number of days from the environment: a whole number from 1 to 3650, or refused."""
    value = env.str(name, default=str(default)).strip()
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 3650):
        raise ImproperlyConfigured(
            f"{name} must be a whole number of days from 1 to 3650, not {value!r}."
        )
    return int(value)


# Declined checkouts (an order whose authorization was declined or abandoned, with no
# money ever held) and blocked-attempt records are purged after this many days, and
# finished background task results after TASK_RESULT_RETENTION_DAYS (shop/retention.py,
# worker/retention.py, the periodic job "retention-daily", manage.py purge_declined).
DECLINED_ORDER_RETENTION_DAYS = _days("DECLINED_ORDER_RETENTION_DAYS", 30)
TASK_RESULT_RETENTION_DAYS = _days("TASK_RESULT_RETENTION_DAYS", 30)
TASK_PERIODIC = {
    "payments-check": {
        "call": "payments.operations.recovery.payment_watch_run",
        "every": PAYMENTS_CHECK_INTERVAL_SECONDS,
    },
    # Yesterday's ledger compared with the provider's records (issue 14).
    "reconciliation-daily": {
        "call": "payments.operations.reconciliation.reconciliation_daily_run",
        "every": 24 * 60 * 60,
    },
    # Declined checkouts older than DECLINED_ORDER_RETENTION_DAYS are purged, and
    # finished task results older than TASK_RESULT_RETENTION_DAYS.
    "retention-daily": {
        "call": "shop.retention.retention_purge_run",
        "every": 24 * 60 * 60,
    },
}

# Logs (shop/logs.py): a request id on every line, secrets redacted, one line per
# payment event; JSON lines with DEBUG off, readable lines in development.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "shop.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "shop.logs.JsonFormatter"},
        "readable": {"()": "shop.logs.ReadableFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "readable" if DEBUG else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
