"""When a parcel should arrive: the estimated delivery date of each shipping method.

Counted in French working days (Monday to Friday, public holidays excepted)
from the day of the order; an estimate shown to the shopper, not a promise
the code enforces.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from orders.shipping import SHIPPING_METHODS


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def french_public_holidays(year: int) -> set[date]:
    easter = _easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    moving = [easter + timedelta(days=n) for n in (1, 39, 50)]  # Monday, Ascension, Whit Monday
    return {date(year, month, day) for month, day in fixed} | set(moving)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in french_public_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    day = start
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


@dataclass(frozen=True)
class DeliveryEstimate:
    earliest: date
    latest: date

    def __str__(self) -> str:
        if self.earliest == self.latest:
            return _("Estimated delivery: %(date)s") % {"date": _day(self.earliest)}
        return _("Estimated delivery: between %(earliest)s and %(latest)s") % {
            "earliest": _day(self.earliest),
            "latest": _day(self.latest),
        }


def _day(day: date) -> str:
    return date_format(day, "l j F")


def delivery_estimate(method_code: str, *, today: date | None = None) -> DeliveryEstimate | None:
    """When a parcel sent by ``method_code`` and ordered ``today`` should arrive."""
    method = SHIPPING_METHODS.get(method_code)
    if method is None:
        return None
    today = today or timezone.localdate()
    return DeliveryEstimate(
        earliest=add_working_days(today, method.min_working_days),
        latest=add_working_days(today, method.max_working_days),
    )
