"""The order admin's shipping day: the action, the confirmation page, progress and report.

``OrderAdmin`` hands a selection of several orders to ``start_shipping_run``
and adds ``shipping_run_urls``; the work itself is in ``orders.bulk_shipping``.
"""

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.admin_extensions import shipment_messages
from orders.bulk_shipping import (
    can_ship_orders,
    shipping_run_confirm,
    shipping_run_progress,
    shipping_run_report,
    shipping_run_start,
    shipping_run_summary,
)
from orders.exceptions import OrderError
from orders.models import Carrier, Order, ShippingRun, ShippingRunResult, ShippingRunStatus


class ShippingRunForm(forms.Form):
    carrier = forms.ChoiceField(label=gettext_lazy("Carrier"), choices=Carrier.choices)


@dataclass(frozen=True)
class ReportLine:
    """One order of a finished run's report, and what it says about it."""

    result: ShippingRunResult
    details: str


def _report_lines(results: list[ShippingRunResult]) -> list[ReportLine]:
    """The report's lines: why each refusal, for each parcel what the other apps did about it.

    A refusal's reason was stored with it; a parcel's follow-up (the capture
    queued, already paid) is read from those apps' records through the order
    admin's extensions, in the reader's language and a fixed number of queries.
    Runs recorded before that kept a sentence in ``message``: it is shown as is.
    """
    said = shipment_messages([result.shipment for result in results if result.shipped])
    return [
        ReportLine(result, result.message or said.get(result.shipment_id, "")) for result in results
    ]


def _report_context(run: ShippingRun, finished: bool) -> dict:
    """``report``: the run's results (refused first); ``report_lines``: what the page shows."""
    if not finished:
        return {"report": None, "report_lines": None}
    results = shipping_run_report(run=run)
    return {"report": results, "report_lines": _report_lines(results)}


def _check(request: HttpRequest) -> None:
    if not can_ship_orders(request.user):
        raise PermissionDenied


def start_shipping_run(request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
    """Keep the selection (any size) and go to its confirmation page."""
    _check(request)
    order_ids = list(queryset.order_by().values_list("pk", flat=True))
    run = shipping_run_start(order_ids=order_ids, started_by=request.user)
    return HttpResponseRedirect(reverse("admin:orders_shippingrun", args=[run.pk]))


def _context(model_admin: admin.ModelAdmin, request: HttpRequest, run: ShippingRun, **extra):
    return {
        **model_admin.admin_site.each_context(request),
        "opts": Order._meta,
        "run": run,
        **extra,
    }


def shipping_run_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, run_id: int
) -> HttpResponse:
    """A draft: the confirmation page (and its POST); afterwards: progress, then the report."""
    _check(request)
    run = get_object_or_404(ShippingRun, pk=run_id)
    if run.status != ShippingRunStatus.DRAFT:
        progress = shipping_run_progress(run=run)
        return TemplateResponse(
            request,
            "admin/orders/order/shipping_run.html",
            _context(
                model_admin,
                request,
                run,
                title=_("Shipping run %(run)s") % {"run": run},
                progress=progress,
                **_report_context(run, progress.finished),
            ),
        )
    form = ShippingRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            shipping_run_confirm(run_id=run.pk, carrier=form.cleaned_data["carrier"])
        except OrderError as error:
            model_admin.message_user(request, str(error), messages.ERROR)
        return HttpResponseRedirect(request.path)
    return TemplateResponse(
        request,
        "admin/orders/order/shipping_run_confirm.html",
        _context(
            model_admin,
            request,
            run,
            title=_("Mark selected orders shipped"),
            form=form,
            summary=shipping_run_summary(run=run),
        ),
        status=422 if form.errors else 200,
    )


def shipping_run_progress_view(request: HttpRequest, run_id: int) -> JsonResponse:
    """The progress bar's figures, polled by ``shipping-run.js``."""
    _check(request)
    run = ShippingRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404
    progress = shipping_run_progress(run=run)
    return JsonResponse(
        {
            "total": progress.total,
            "done": progress.done,
            "shipped": progress.shipped,
            "refused": progress.refused,
            "finished": progress.finished,
        }
    )


def shipping_run_urls(model_admin: admin.ModelAdmin) -> list:
    site = model_admin.admin_site
    return [
        path(
            "shipping-runs/<int:run_id>/",
            site.admin_view(
                lambda request, run_id: shipping_run_view(model_admin, request, run_id)
            ),
            name="orders_shippingrun",
        ),
        path(
            "shipping-runs/<int:run_id>/progress/",
            site.admin_view(shipping_run_progress_view),
            name="orders_shippingrun_progress",
        ),
    ]
