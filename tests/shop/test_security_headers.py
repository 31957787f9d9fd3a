"""Every response carries a strict Content Security Policy and a Permissions-Policy."""

import re

import pytest
from django.contrib.auth import get_user_model

from payments.emails import reauthorize_url
from payments.providers.sandbox import gateway
from tests.factories import ProductVariantFactory
from tests.helpers import place_order

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict_headers(response, *, stripe=False):
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in csp[directive]
        assert "'unsafe-eval'" not in csp[directive]
    stripe_hosts = [s for sources in csp.values() for s in sources if "stripe.com" in s]
    if stripe:
        assert "https://js.stripe.com" in csp["script-src"]
        assert "https://js.stripe.com" in csp["frame-src"]
        assert "https://api.stripe.com" in csp["connect-src"]
    else:
        assert stripe_hosts == []
        assert csp["frame-src"] == ["'none'"]
    assert "Content-Security-Policy-Report-Only" not in response.headers
    permissions = response.headers["Permissions-Policy"]
    assert re.search(r"payment=\(self\b", permissions)
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in permissions
    assert "Server" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_shop_page(client):
    ProductVariantFactory()
    response = client.get("/")
    assert response.status_code == 200
    assert_strict_headers(response)


def test_the_sandbox_card_page(client):
    session = gateway.session_create(
        amount=1000,
        currency="EUR",
        return_url="http://testserver/checkout/payment/return/",
        cancel_url="http://testserver/checkout/payment/",
        language="fr",
    )
    response = client.get(f"/sandbox/pay/{session['id']}/")
    assert response.status_code == 200
    assert "card-number" in response.text or "cc-number" in response.text
    assert_strict_headers(response)


def test_an_e_mail_linked_page(client, settings):
    variant = ProductVariantFactory(stock=3)
    order = place_order({variant.pk: 1})
    response = client.get(reauthorize_url(order).removeprefix(settings.SHOP_BASE_URL))
    assert response.status_code == 200
    assert_strict_headers(response)


def test_the_admin_uses_a_nonce_for_its_inline_style(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    client.force_login(admin)
    response = client.get("/admin/orders/order/")
    assert response.status_code == 200
    assert_strict_headers(response)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert nonce is not None
    assert f'nonce="{nonce.group(1)}"' in response.text


def test_the_admin_login(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_strict_headers(response)


def test_stripe_hosts_only_when_stripe_is_on(client, stripe_fake):
    ProductVariantFactory()
    response = client.get("/")
    assert_strict_headers(response, stripe=True)
    assert '"https://js.stripe.com"' in response.headers["Permissions-Policy"]


def test_no_template_has_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offending = []
    for template in root.rglob("*.html"):
        if "email" in template.parts:
            continue  # e-mails are read in mail clients, where no CSP applies
        text = template.read_text()
        if (
            re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
            or re.search(r"<style\b", text)
            or re.search(r"\sstyle=", text)
            or re.search(r"\son[a-z]+=", text)
        ):
            offending.append(str(template.relative_to(root)))
    assert offending == []
