"""Playwright driving Debian's Chromium against the live test server.

Chromium is looked up at ``CHROMIUM_PATH`` (default ``/usr/bin/chromium``).
Without it these tests skip locally; under ``CI=true`` they fail instead,
since CI installs it.
"""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    return path if Path(path).exists() else shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed, and CI must run the browser tests.")
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# The shop's Content Security Policy is on in the browser tests (never
# bypass_csp): every violation a page reports, as an event or on the console,
# fails the test that caused it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__reportCspViolation(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " on " + event.documentURI
  );
});
"""


def watch_csp_violations(context, page) -> list[str]:
    """The list that every CSP violation in ``context`` (and on ``page``'s console) joins."""
    violations: list[str] = []
    context.expose_binding(
        "__reportCspViolation", lambda source, message: violations.append(message)
    )
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def _new_page(browser, request, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations = watch_csp_violations(context, page)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.name.replace("/", "_")
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content())
    context.close()
    assert violations == [], "Content Security Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def page(browser, request, live_server):
    yield from _new_page(browser, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def staff_page(browser, request, live_server):
    yield from _new_page(browser, request, viewport={"width": 1280, "height": 900})
