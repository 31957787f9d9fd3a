"""Every shopper page, in French and in English, at phone and desktop widths:
axe-core finds no violation, nothing scrolls sideways at 320 and 375 px, and
screenshots at 375 and 1280 px land in ``test-artifacts/screens/`` for review.
Then: the focus is visible on every focusable element, and an error summary
takes the focus and leads to its fields.

One journey per language walks the whole checkout (with its error states, the
3-D Secure page and the legal pages); at each page the viewport is resized in
place, so each page is loaded once and checked at every width.
"""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import expect

from shop.demo import load_demo_catalogue
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
axe = Axe()

PHONE_HEIGHT, DESKTOP = 740, {"width": 1280, "height": 900}
SCREENS = ARTIFACTS / "screens"
THREE_D_SECURE = "4000002760003184"


@pytest.fixture
def catalogue(live_server):
    """The twelve demo products, their pictures served to the browser from MEDIA_ROOT."""
    load_demo_catalogue()
    return Path(settings.MEDIA_ROOT)


def new_page(browser, live_server, media_root: Path, viewport: dict, **options):
    context = browser.new_context(viewport=viewport, **options)
    context.set_default_timeout(15_000)

    def serve_media(route):
        name = route.request.url.split(settings.MEDIA_URL, 1)[1]
        route.fulfill(path=media_root / name)

    context.route(f"{live_server.url}{settings.MEDIA_URL}**", serve_media)
    return context, context.new_page()


def no_horizontal_scroll(page, where: str) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{where}: {widths[0]} px wide in a {widths[1]} px window"


def assert_accessible(page, where: str) -> None:
    """No axe-core violation on the page as it is now (also used by the Stripe tests)."""
    results = axe.run(page)
    assert results.violations_count == 0, f"{where}:\n{results.generate_report()}"


def checker(page, language: str, failures: list[str]) -> Callable[..., None]:
    """Check the page now shown at 320, 375 and 1280 px; collect what fails."""

    def check(name: str, screenshot: bool = True) -> None:
        page.wait_for_load_state("load")
        for width in (320, 375, 1280):
            page.set_viewport_size(
                DESKTOP if width == 1280 else {"width": width, "height": PHONE_HEIGHT}
            )
            where = f"{language} {name} at {width} px"
            try:
                if width < 1280:
                    no_horizontal_scroll(page, where)
                if width > 320:
                    assert_accessible(page, where)
            except AssertionError as error:
                failures.append(str(error))
            if screenshot and width > 320:
                SCREENS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SCREENS / f"{language}-{width}-{name}.png", full_page=True)

    return check


def fill_details(page) -> None:
    page.locator("#id_email").fill("claire@example.com")
    page.locator("#id_full_name").fill("Claire Dubois")
    page.locator("#id_address_line1").fill("12 rue des Lilas")
    page.locator("#id_postal_code").fill("75011")
    page.locator("#id_city").fill("Paris")


def submit(page, selector: str = "main form:not(.language) [type=submit]") -> None:
    page.locator(selector).last.click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_shopper_page_fits_a_phone_and_passes_axe(browser, live_server, catalogue, language):
    root = live_server.url + ("/en" if language == "en" else "")
    context, page = new_page(browser, live_server, catalogue, DESKTOP)
    failures: list[str] = []
    check = checker(page, language, failures)
    try:
        page.goto(f"{root}/")
        check("collection")
        page.locator(".product-card-link").first.click()
        check("product")
        submit(page, "form.add-to-cart [type=submit]")  # no size chosen
        expect(page.locator("#error-summary")).to_be_focused()
        assert page.title().startswith("Erreur :" if language == "fr" else "Error:")
        check("product-error", screenshot=False)
        page.locator("input[name=variant]:not([disabled])").first.check()
        submit(page, "form.add-to-cart [type=submit]")
        check("cart")

        page.locator("a.button-primary").click()
        check("details")
        submit(page)  # nothing filled in
        expect(page.locator("#error-summary")).to_be_focused()
        check("details-error")
        fill_details(page)
        submit(page)
        check("delivery")
        submit(page)
        check("payment")
        submit(page)
        check("card")
        page.locator("#id_number").fill(THREE_D_SECURE)
        page.locator("#id_expiry").fill("01/20")  # expired
        page.locator("#id_security_code").fill("123")
        submit(page, "button.pay")
        expect(page.locator("#form-errors")).to_be_focused()
        check("card-error", screenshot=False)
        # The number was kept; the security code was not.
        expect(page.locator("#id_number")).not_to_have_value("")
        expect(page.locator("#id_security_code")).to_have_value("")
        page.locator("#id_expiry").fill("12/34")
        page.locator("#id_security_code").fill("123")
        submit(page, "button.pay")
        check("review")
        submit(page, "form[data-once] [type=submit]")
        check("3-d-secure")
        page.locator("button[value=approve]").click()
        expect(page.get_by_test_id("payment-promise")).to_be_visible()
        check("confirmation")
        # The order's page as its e-mailed link opens it, in another browser.
        link = page.get_by_test_id("order-page-link").get_attribute("href")
        page.context.clear_cookies()
        page.goto(link)
        expect(page.get_by_test_id("timeline")).to_be_visible()
        check("order-page")

        page.goto(f"{root}/payment/")
        check("payment-information")
        page.goto(f"{root}/orders/find/")
        check("find-order")
        submit(page)  # nothing filled in
        expect(page.locator("#error-summary")).to_be_focused()
        check("find-order-error", screenshot=False)
        page.locator("#id_email").fill("claire@example.com")
        page.locator("#id_number").fill("ABCDEFGHJK")
        submit(page)
        expect(page.locator(".message-success")).to_be_visible()
        check("find-order-sent", screenshot=False)

        page.goto(f"{root}/cart/")
        check("empty-cart", screenshot=False)
        for name in ("terms", "notice", "returns", "privacy"):
            page.goto(f"{root}/legal/{name}/")
            check(f"legal-{name}", screenshot=name == "terms")
        page.goto(f"{root}/contact/")
        check("contact", screenshot=False)
    finally:
        context.close()
    assert not failures, "\n\n".join(failures)


def focusable(page) -> list[str]:
    """A selector for each visible focusable element of the page."""
    return page.evaluate(
        """() => {
          const all = document.querySelectorAll(
            'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]),'
            + ' select:not([disabled]), textarea, summary, [tabindex]:not([tabindex="-1"])');
          const out = [];
          all.forEach((el, i) => {
            if (el.closest('[hidden], details:not([open]) > :not(summary)')) return;
            const style = getComputedStyle(el);
            if (style.visibility === 'hidden' || style.display === 'none') return;
            if (!el.getClientRects().length && !el.classList.contains('skip-link')) return;
            el.dataset.focusProbe = String(i);
            out.push(`[data-focus-probe="${i}"]`);
          });
          return out;
        }"""
    )


def region(page, selector: str) -> dict:
    """The element's box, widened to take in an outline drawn outside it."""
    box = page.locator(selector).bounding_box()
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    pad = 8
    return {
        "x": max(box["x"] + scroll[0] - pad, 0),
        "y": max(box["y"] + scroll[1] - pad, 0),
        "width": box["width"] + 2 * pad,
        "height": box["height"] + 2 * pad,
    }


def assert_focus_visible(page, name: str) -> int:
    page.keyboard.press("Tab")  # keyboard use: :focus-visible applies from now on
    unseen = []
    selectors = focusable(page)
    for selector in selectors:
        element = page.locator(selector)
        element.focus()
        clip = region(page, selector)
        focused = page.screenshot(clip=clip, full_page=True)
        page.evaluate("document.activeElement.blur()")
        unfocused = page.screenshot(clip=clip, full_page=True)
        if focused == unfocused:
            unseen.append(element.evaluate("e => e.outerHTML.slice(0, 120)"))
    assert not unseen, f"{name}: no visible focus on\n" + "\n".join(unseen)
    return len(selectors)


def test_the_focus_is_visible_on_every_focusable_element(browser, live_server, catalogue):
    context, page = new_page(browser, live_server, catalogue, {"width": 375, "height": 740})
    root = live_server.url
    checked = 0
    try:
        page.goto(f"{root}/")
        checked += assert_focus_visible(page, "collection")
        page.locator(".product-card-link").first.click()
        checked += assert_focus_visible(page, "product")
        page.locator("input[name=variant]:not([disabled])").first.check()
        submit(page, "form.add-to-cart [type=submit]")
        checked += assert_focus_visible(page, "cart")
        page.locator("a.button-primary").click()
        submit(page)
        checked += assert_focus_visible(page, "details with errors")
        fill_details(page)
        submit(page)
        checked += assert_focus_visible(page, "delivery")
        submit(page)
        page.locator("details.order-summary-compact summary").click()  # opened
        checked += assert_focus_visible(page, "payment")
        submit(page)
        page.locator("#id_number").fill("4242424242424241")
        submit(page, "button.pay")
        checked += assert_focus_visible(page, "card with errors")
        page.goto(f"{root}/legal/returns/")
        checked += assert_focus_visible(page, "returns")
    finally:
        context.close()
    assert checked > 60  # the pages' links, buttons and fields were all found


@pytest.mark.parametrize(
    ("path", "button", "first_field"),
    [
        ("details", "main form [type=submit]", "id_email"),
        ("product", "form.add-to-cart [type=submit]", "id_variant"),
    ],
)
def test_the_error_summary_takes_the_focus_and_leads_to_each_field(
    browser, live_server, catalogue, path, button, first_field
):
    context, page = new_page(browser, live_server, catalogue, {"width": 375, "height": 740})
    try:
        page.goto(f"{live_server.url}/")
        page.locator(".product-card-link").first.click()
        if path == "details":
            page.locator("input[name=variant]:not([disabled])").first.check()
            submit(page, "form.add-to-cart [type=submit]")
            page.locator("a.button-primary").click()
            page.locator("#id_email").fill("claire@")
        submit(page, button)

        summary = page.locator("#error-summary")
        expect(summary).to_be_focused()
        assert page.title().startswith("Erreur :")
        links = summary.locator("a")
        targets = [href[1:] for href in links.evaluate_all("ls => ls.map(l => l.hash)")]
        assert targets[0] == first_field
        for index, target in enumerate(targets):
            links.nth(index).click()
            expect(page.locator(f"#{target}")).to_be_focused()
            # The field's message is read with it.
            described = page.locator(f"#{target}").get_attribute("aria-describedby") or ""
            assert re.search(r"_error\b", described), described
            page.locator("#error-summary").focus()
        if path == "details":
            assert len(targets) == 5  # e-mail, name, address, postal code, city
    finally:
        context.close()
