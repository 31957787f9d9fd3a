"""The pages a French online shop must publish: terms of sale, legal notice,
returns and withdrawal, contact, privacy.

Legal text is kept as one template per language (``<page>.fr.html``,
``<page>.en.html``) rather than as hundreds of translation strings: a lawyer
reviews and edits each version as a whole. The company's details come from
``settings.SHOP_COMPANY``.
"""

from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

# Days a consumer has to withdraw from a distance sale (Code de la consommation, L221-18).
WITHDRAWAL_DAYS = 14


@dataclass(frozen=True)
class LegalPage:
    code: str
    title: str | Promise


LEGAL_PAGES: dict[str, LegalPage] = {
    page.code: page
    for page in (
        LegalPage("terms", _("Terms of sale")),
        LegalPage("notice", _("Legal notice")),
        LegalPage("returns", _("Returns and withdrawal")),
        LegalPage("contact", _("Contact")),
        LegalPage("privacy", _("Privacy")),
    )
}


def _template_language() -> str:
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return language if language in {"fr", "en"} else "fr"


@require_GET
def legal_page(request: HttpRequest, page: str) -> HttpResponse:
    spec = LEGAL_PAGES.get(page)
    if spec is None:
        raise Http404
    return render(
        request,
        f"shop/legal/{spec.code}.{_template_language()}.html",
        {
            "page": spec,
            "company": settings.SHOP_COMPANY,
            "withdrawal_days": WITHDRAWAL_DAYS,
            "declined_order_days": settings.DECLINED_ORDER_RETENTION_DAYS,
            "legal_pages": LEGAL_PAGES.values(),
        },
    )
