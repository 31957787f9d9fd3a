"""Production strictness: with DEBUG off the settings refuse what is unsafe."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRONG_KEY = "k" * 20 + "x9Q2-" * 10
PRODUCTION = {
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


STRIPE_KEYS = {
    "PAYMENTS_PROVIDER": "stripe",
    "STRIPE_SECRET_KEY": "sk_test_" + "a1B2c3D4e5F6g7H8i9J0",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "a1B2c3D4e5F6g7H8i9J0",
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "a1B2c3D4e5F6g7H8i9J0",
}


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
