"""Every shopper page passes axe-core's checks, in French, on desktop and phone."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.factories import ProductVariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
axe = Axe()


def assert_accessible(page, name: str) -> None:
    results = axe.run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
)
def test_the_shopper_pages_have_no_accessibility_violations(
    browser, request, live_server, viewport
):
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    ProductVariantFactory(product__name="Jean droit", size="S", stock=0)
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/")
        assert_accessible(page, "collection")

        page.get_by_role("link", name="Robe portefeuille").first.click()
        assert_accessible(page, "product")
        page.get_by_role("button", name="Ajouter au panier").click()  # no size chosen
        expect(page.locator(".field-error")).to_be_visible()
        assert_accessible(page, "product with an error")
        page.get_by_label("M", exact=True).check()
        page.get_by_role("button", name="Ajouter au panier").click()
        assert_accessible(page, "cart")

        page.get_by_role("link", name="Commander").click()
        page.get_by_role("button", name="Continuer vers la livraison").click()
        expect(page.locator(".form-errors")).to_be_visible()
        assert_accessible(page, "details with errors")
        page.get_by_label("E-mail").fill("claire@example.com")
        page.get_by_label("Nom complet").fill("Claire Dubois")
        page.get_by_label("Adresse", exact=True).fill("12 rue des Lilas")
        page.get_by_label("Code postal").fill("75011")
        page.get_by_label("Ville").fill("Paris")
        page.get_by_role("button", name="Continuer vers la livraison").click()
        assert_accessible(page, "delivery")
        page.get_by_role("button", name="Continuer vers le paiement").click()
        assert_accessible(page, "payment")
        page.get_by_role("button", name="Saisir ma carte").click()
        assert_accessible(page, "sandbox card page")
        page.locator("#id_number").fill("4242424242424241")
        page.locator("#id_expiry").fill("12/34")
        page.locator("#id_security_code").fill("123")
        page.locator("button.pay").click()
        expect(page.locator(".field-error")).to_be_visible()
        assert_accessible(page, "sandbox card page with errors")
        page.locator("#id_number").fill("4242424242424242")
        page.locator("#id_security_code").fill("123")
        page.locator("button.pay").click()
        assert_accessible(page, "review")
        page.locator("form[data-once] button").click()
        expect(page.get_by_test_id("payment-promise")).to_be_visible()
        assert_accessible(page, "confirmation")
    except Exception:
        page.screenshot(path=f"test-artifacts/a11y-{viewport['width']}.png", full_page=True)
        raise
    finally:
        context.close()
