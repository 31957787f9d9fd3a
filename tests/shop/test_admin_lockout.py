"""The admin login can't be brute-forced: django-axes locks out per username and per IP."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model

LOGIN = "/admin/login/"
PASSWORD = "right-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        username="warehouse", password=PASSWORD, is_staff=True
    )


def attempt(client, username, password, ip="203.0.113.7"):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_the_right_password_is_refused_after_the_failure_limit(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attempt(client, "warehouse", "wrong")
        assert response.status_code == 200  # the form again, with its error
    assert attempt(client, "warehouse", "wrong").status_code == 429
    response = attempt(client, "warehouse", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "Too many failed logins" in response.text or "Trop de" in response.text


def test_a_few_mistakes_then_the_right_password_logs_in(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "warehouse", "wrong")
    response = attempt(client, "warehouse", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_a_username_is_locked_out_whatever_the_address(client, staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "warehouse", "wrong", ip=f"198.51.100.{n + 1}")
    response = attempt(client, "warehouse", PASSWORD, ip="192.0.2.200")
    assert response.status_code == 429


def test_an_address_is_locked_out_whatever_the_username(client, staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"guess{n}", "wrong", ip="203.0.113.9")
    assert attempt(client, "warehouse", PASSWORD, ip="203.0.113.9").status_code == 429
    # Another address, with the right password, is not affected.
    assert attempt(client, "warehouse", PASSWORD, ip="203.0.113.10").status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_locked(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            LOGIN,
            {"username": "nobody", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}
    # Another client behind the same proxy still logs in.
    response = client.post(
        LOGIN,
        {"username": "warehouse", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.51",
    )
    assert response.status_code == 302


def test_the_attempts_are_listed_for_superusers(client, staff, settings):
    attempt(client, "warehouse", "wrong")
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    client.force_login(admin)
    response = client.get("/admin/axes/accessattempt/")
    assert response.status_code == 200
    assert "warehouse" in response.text
    client.force_login(staff)
    assert client.get("/admin/axes/accessattempt/").status_code == 403
