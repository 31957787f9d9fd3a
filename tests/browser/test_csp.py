"""The browser tests run under the shop's Content Security Policy and see its violations."""

import pytest

from tests.browser.conftest import watch_csp_violations
from tests.factories import ProductVariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_policy_is_enforced_and_a_violation_is_seen(browser, live_server):
    ProductVariantFactory()
    context = browser.new_context()
    try:
        page = context.new_page()
        violations = watch_csp_violations(context, page)
        page.goto(live_server.url + "/")
        page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.inlineRan = true;";
                document.body.appendChild(script);
            }"""
        )
        page.wait_for_timeout(200)
        assert page.evaluate("window.inlineRan === undefined")  # refused, not run
        assert any("script-src" in violation for violation in violations), violations
    finally:
        context.close()
