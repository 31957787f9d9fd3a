"""Production strictness: with DEBUG off the settings refuse what is unsafe."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRIPE_KEYS = {
    "PAYMENTS_PROVIDER": "stripe",
    "STRIPE_SECRET_KEY": "sk_test_" + "a1B2c3D4e5F6g7H8i9J0",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "a1B2c3D4e5F6g7H8i9J0",
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "a1B2c3D4e5F6g7H8i9J0",
}
STRONG_KEY = "k" * 20 + "x9Q2-" * 10
PRODUCTION = {
    **STRIPE_KEYS,
    "SHOP_BASE_URL": "https://shop.example.com",
    "DEBUG": "False",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "shop.example.com",
    "EMAIL_URL": "smtp+tls://user:secret@smtp.example.com:587",
    "DATABASE_URL": "sqlite:////tmp/boutique-settings-test.sqlite3",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    leave_out = {*PRODUCTION, "CI", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in leave_out}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set"),
        ("EMAIL_URL", "EMAIL_URL must be set"),
        ("SHOP_BASE_URL", "SHOP_BASE_URL must be set"),
    ],
)
def test_production_refuses_to_start_without(missing, message):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_a_weak_secret_key():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": "django-insecure-short"})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_an_unknown_payment_provider_is_refused_with_its_name():
    result = manage("check", PAYMENTS_PROVIDER="paypal-direct")
    assert result.returncode != 0
    assert "PAYMENTS_PROVIDER='paypal-direct'" in result.stderr


def test_production_settings_pass_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout


def test_the_stripe_provider_starts_with_its_three_keys():
    result = manage("check", **STRIPE_KEYS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "missing", ["STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"]
)
def test_the_stripe_provider_refuses_to_start_without_a_key_and_names_it(missing):
    result = manage("check", **{**STRIPE_KEYS, missing: ""})
    assert result.returncode != 0
    assert f"{missing} must be set when PAYMENTS_PROVIDER=stripe" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRIPE_SECRET_KEY", "pk_test_a1B2c3D4e5F6g7H8i9J0"),  # the publishable one by mistake
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_short"),
        ("STRIPE_WEBHOOK_SECRET", "we_1Abc2Def3Ghi4Jkl5Mno"),  # the endpoint id, not its secret
    ],
)
def test_the_stripe_provider_refuses_a_malformed_key_and_names_it(name, value):
    result = manage("check", **{**STRIPE_KEYS, name: value})
    assert result.returncode != 0
    assert f"{name} is malformed" in result.stderr
    assert value not in result.stderr  # keys are never echoed


def test_the_stripe_provider_refuses_mixed_live_and_test_keys():
    live = {**STRIPE_KEYS, "STRIPE_PUBLISHABLE_KEY": "pk_live_a1B2c3D4e5F6g7H8i9J0"}
    result = manage("check", **live)
    assert result.returncode != 0
    assert "both be live keys or both test keys" in result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://shop.example.com", "must start with https://"),
        ("shop.example.com", "is not a site address"),
        ("https://shop.example.com/fr/", "is not a site address"),
    ],
)
def test_production_refuses_a_shop_base_url_e_mails_could_not_use(value, message):
    result = manage("check", **{**PRODUCTION, "SHOP_BASE_URL": value})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_the_sandbox_unless_it_is_a_demo():
    sandbox = {k: v for k, v in PRODUCTION.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    result = manage("check", **sandbox)
    assert result.returncode != 0
    assert "PAYMENTS_SANDBOX_DEMO=True" in result.stderr
    result = manage("check", **sandbox, PAYMENTS_SANDBOX_DEMO="True")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "smtp://user:secret@smtp.example.com:25",
        "smtps://user:secret@smtp.example.com:465",
        "smtp+tls://user:secret@smtp.example.com:587",
        "smtp+ssl://user:secret@smtp.example.com:465",
        "consolemail://",
        "filemail:///tmp/boutique-settings-test-mail",
        "memorymail://",
        "dummymail://",
    ],
)
def test_production_starts_with_every_email_url_scheme(url):
    result = manage("check", **{**PRODUCTION, "EMAIL_URL": url})
    assert result.returncode == 0, result.stderr


SEND = (
    "from django.core.mail import send_mail; "
    "print('sent', send_mail('Subject', 'Body', None, ['claire@example.com']))"
)


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("consolemail://", "Subject: Subject"),
        ("memorymail://", "sent 1"),
        ("dummymail://", "sent"),
    ],
)
def test_an_e_mail_goes_out_through_a_non_smtp_email_url(url, expect):
    result = manage("shell", "-c", SEND, **{**PRODUCTION, "EMAIL_URL": url})
    assert result.returncode == 0, result.stderr
    assert expect in result.stdout


def test_filemail_writes_to_the_absolute_folder_it_names(tmp_path):
    folder = tmp_path / "mail"
    result = manage("shell", "-c", SEND, **{**PRODUCTION, "EMAIL_URL": f"filemail://{folder}"})
    assert result.returncode == 0, result.stderr
    assert "Subject: Subject" in next(folder.iterdir()).read_text()


def test_smtp_options_come_from_the_url():
    from django.core.mail import mailers
    from django.test import override_settings

    from shop.settings import _mailer

    with override_settings(MAILERS={"default": _mailer("smtp+tls://me:pw@mail.example.com:587")}):
        connection = mailers["default"]
    assert (connection.host, connection.port, connection.username) == (
        "mail.example.com",
        587,
        "me",
    )
    assert connection.use_tls is True
