"""Settings, read from the environment.

Every variable has a default that makes development work with no ``.env``:
SQLite in ``var/``, the offline sandbox payment provider and e-mails written
to files in ``var/mail/``. With ``DEBUG`` off the settings turn strict: a real
secret key, explicit hosts and HTTPS-only cookies are required.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
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
    SHOP_BASE_URL=(str, "http://127.0.0.1:8000"),
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
    "shop",
    "orders",
    "payments",
    "payments.providers.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.storefront",
            ],
        },
    },
]

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

# E-mail: files you can read in development (var/mail/), SMTP from EMAIL_URL
# (smtp+tls://user:password@host:587) in production.
if env("EMAIL_URL"):
    _smtp = env.email_url("EMAIL_URL")
    MAILERS = {
        "default": {
            "BACKEND": _smtp["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _smtp["EMAIL_HOST"],
                "port": _smtp["EMAIL_PORT"],
                "username": _smtp["EMAIL_HOST_USER"],
                "password": _smtp["EMAIL_HOST_PASSWORD"],
                "use_tls": _smtp.get("EMAIL_USE_TLS", False),
                "use_ssl": _smtp.get("EMAIL_USE_SSL", False),
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
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

if not DEBUG:
    if not env("EMAIL_URL"):
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
SHOP_BASE_URL = env("SHOP_BASE_URL").rstrip("/")
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
# A money operation with no news for this long is re-enqueued (its worker died).
PAYMENTS_STALE_OPERATION_MINUTES = env.int("PAYMENTS_STALE_OPERATION_MINUTES", default=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
