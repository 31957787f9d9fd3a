"""No input answers 5xx, and bad input changes nothing: every URL, every form, fuzzed.

The URL resolver is walked (not a hand-written list: a new URL is fuzzed here
without anyone remembering to), and for each route hypothesis draws its path
parameters, a query string and, for a POST, the fields of the forms its page
shows, each kept, left out or replaced by NUL bytes, Unicode digits, huge,
negative, overflowing or malformed values. This runs as a shopper part-way
through the checkout and as staff in the admin. After each request:

- the answer is not 5xx (an exception in a view fails too);
- a GET, and a POST that was refused (4xx, or the form shown again), left every
  row of the shop, orders, payments, sandbox, users and tasks as it was.

A POST answered with a redirect may have been a valid submission, so it may
change rows. ``FUZZ_EXAMPLES`` sets the examples per route and role (default
6); CI draws the same examples on every run (derandomized), a local run new
ones each time.
"""

import html.parser
import os
import re
from dataclasses import dataclass, field
from importlib import import_module
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import F
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orders.models import Order
from orders.services import order_ship
from payments.emails import reauthorize_url
from payments.providers.sandbox import gateway
from payments.providers.sandbox.models import SandboxCardSession, SandboxCharge
from shop.models import ProductVariant
from tests.factories import ProductVariantFactory
from tests.helpers import place_order, run_tasks
from tests.shop.test_checkout import checkout_until_review

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    database=None,
    suppress_health_check=list(HealthCheck),
    # The first failing request of a route is reported as sent (it names its
    # input): shrinking would replay hundreds of admin pages.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)

# Inputs that broke this shop, or break shops in general.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "%00",
    "²",
    "4242²",
    "٣",
    "１２",
    "0",
    "-1",
    "-0",
    "1.5",
    "12,50",
    "1e400",
    "9e999999",
    "-9e999999",
    "NaN",
    "Infinity",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999999999",
    "-99999999999999999999999999",
    "x" * 5000,
    "é" * 300,
    "\u202e\ufeff",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "../../../etc/passwd",
    "\r\nSet-Cookie: a=b",
    "true",
    "null",
    "[]",
    "{}",
]
# The few that break most: tried first (hypothesis starts from its simplest draw).
KILLERS = ["\x00", "²" * 16, "99999999999999999999999", "-1", "9e999999", "x" * 3000]
VALUES = st.one_of(
    st.sampled_from(KILLERS),
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
QUERY_KEYS = [
    "ids",
    "session_id",
    "sig",
    "s",
    "t",
    "q",
    "o",
    "p",
    "e",
    "next",
    "language",
    "variant",
    "quantity",
    "_changelist_filters",
    "status__exact",
    "needs_attention",
]


# The routes -------------------------------------------------------------------------


@dataclass
class Route:
    """One URL pattern, as a list of literal pieces and parameters to draw."""

    pieces: list = field(default_factory=list)  # str, ("param", conv, name) or ("regex", rx)
    name: str = ""

    def __str__(self) -> str:
        shown = []
        for piece in self.pieces:
            if isinstance(piece, str):
                shown.append(piece)
            elif piece[0] == "param":
                shown.append(f"<{piece[1]}:{piece[2]}>")
            else:
                shown.append(f"({piece[1]})")
        return "/" + "".join(shown)


PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def _pieces(pattern) -> list:
    if isinstance(pattern, LocalePrefixPattern):
        return [("param", "language_prefix", "language_prefix")]
    if isinstance(pattern, RoutePattern):
        route, pieces, last = str(pattern._route), [], 0
        for match in PARAM.finditer(route):
            pieces.append(route[last : match.start()])
            pieces.append(("param", match["conv"] or "str", match["name"]))
            last = match.end()
        pieces.append(route[last:])
        return [piece for piece in pieces if piece != ""]
    if isinstance(pattern, RegexPattern):
        return [("regex", pattern.regex.pattern)]
    raise AssertionError(f"A kind of URL pattern this suite does not know: {pattern!r}")


def routes() -> list[Route]:
    """Every URL pattern the project's resolver knows, includes followed."""

    def walk(resolver, prefix):
        for pattern in resolver.url_patterns:
            pieces = prefix + _pieces(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, pieces)
            elif isinstance(pattern, URLPattern):
                yield Route(pieces, pattern.name or "")

    return list(walk(get_resolver(), []))


# The world each request meets -----------------------------------------------------


def tracked_models():
    """Every table a request could change that matters (not sessions, logs, lockouts)."""
    skip = {"sessions", "admin", "contenttypes", "axes"}
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label not in skip and model._meta.model_name != "permission"
    ]


def count_changes() -> None:
    """On SQLite, count every insert, update and delete of the tracked tables.

    Temporary triggers add one to a temporary counter; both are part of the
    test's transaction and go with its rollback.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE fuzz_changes (n INTEGER NOT NULL)")
        cursor.execute("INSERT INTO fuzz_changes VALUES (0)")
        for model in tracked_models():
            table = model._meta.db_table
            for event in ("INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    f'CREATE TEMP TRIGGER "fuzz_{table}_{event}" AFTER {event} ON "{table}" '  # noqa: S608 (model tables)
                    "BEGIN UPDATE fuzz_changes SET n = n + 1; END"
                )


def snapshot() -> list:
    """What changes when a row changes, in one query: on PostgreSQL this transaction's
    statistics of inserts, updates and deletes; on SQLite the triggers' counter."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM fuzz_changes")
            return cursor.fetchall()
    if connection.vendor == "postgresql":
        tables = [model._meta.db_table for model in tracked_models()]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables"
                " WHERE relname = ANY(%s) ORDER BY relname",
                [tables],
            )
            return cursor.fetchall()
    return [list(m.objects.order_by("pk").values_list()) for m in tracked_models()]


@pytest.fixture
def world(client, settings):
    """A catalogue, a placed order, and the ids a route may name, for real-looking URLs."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    count_changes()
    variant = ProductVariantFactory(product__slug="robe", product__price_amount=5000, stock=50)
    order = place_order({variant.pk: 1, ProductVariantFactory(stock=5).pk: 1})
    # Part shipped and captured: the refund form is there, and so is the cancel page.
    order_ship(order_id=order.pk, carrier="colissimo", lines={order.lines.first().pk: 1})
    run_tasks()
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    # The user the admin's user pages are fuzzed on: never the one fuzzing.
    victim = get_user_model().objects.create_user("claire", "claire@example.com", "y" * 20)
    # An order waiting on its 3-D Secure page, and a card page still open.
    place_order({variant.pk: 1}, number="4000002760003184")
    checkout_until_review(client, variant)
    session = SandboxCardSession.objects.order_by("pk").last()
    open_session = gateway.session_create(
        amount=1000,
        currency="EUR",
        return_url="http://testserver/checkout/payment/return/",
        cancel_url="http://testserver/checkout/payment/",
        language="fr",
    )["id"]
    signature = reauthorize_url(order).split("sig=")[1]
    return {
        "variant": variant,
        "order": order,
        "staff": staff,
        "known": {
            "slug": [variant.product.slug],
            "token": [str(order.token)],
            "order_id": [str(order.pk)],
            "session_id": [open_session, session.pk],
            "charge_id": sorted(  # the one waiting on its challenge first
                SandboxCharge.objects.values_list("pk", flat=True),
                key=lambda pk: (
                    not SandboxCharge.objects.filter(pk=pk, status="requires_action").exists()
                ),
            ),
            "id": [str(victim.pk)],
            "content_type_id": [str(ContentType.objects.get_for_model(Order).pk)],
            "language_prefix": ["", "en/"],
            "sig": [signature],
            "ids": [str(order.pk)],
            "variant": [str(variant.pk)],
            "s": [session.pk],
        },
    }


def object_ids(route: Route) -> list[str]:
    """Real primary keys for an admin route's ``object_id``, from the model in its name."""
    match = re.fullmatch(r"(\w+?)_(\w+)_(change|delete|history)", route.name)
    if match:
        for model in apps.get_models():
            if f"{model._meta.app_label}_{model._meta.model_name}" == (f"{match[1]}_{match[2]}"):
                objects = model.objects.all()
                if model is get_user_model():
                    objects = objects.exclude(is_superuser=True)
                return [str(pk) for pk in objects.values_list("pk", flat=True)[:2]]
    return [str(pk) for pk in Order.objects.values_list("pk", flat=True)[:1]]


def param_values(conv: str, name: str, known: dict, route: Route):
    real = known.get(name) or (object_ids(route) if name == "object_id" else [])
    if conv == "language_prefix":
        return st.sampled_from(real)
    if conv == "int":
        fuzz = st.integers(min_value=0, max_value=10**30).map(str)
    elif conv == "uuid":
        fuzz = st.uuids().map(str)
    elif conv == "slug":
        fuzz = st.from_regex(r"[-a-zA-Z0-9_]{1,80}", fullmatch=True)
    else:
        fuzz = st.one_of(VALUES, st.text(min_size=1, max_size=80)).filter(bool)
        if conv == "str":
            fuzz = fuzz.filter(lambda value: "/" not in value)
        fuzz = fuzz.map(lambda value: quote(value, safe="/" if conv == "path" else ""))
    return st.one_of(fuzz, st.sampled_from(real)) if real else fuzz


@st.composite
def paths(draw, route: Route, known: dict, real: bool = False) -> str:
    if real:
        return _real_path(route, known)
    parts = []
    for piece in route.pieces:
        if isinstance(piece, str):
            parts.append(piece)
        elif piece[0] == "param":
            parts.append(draw(param_values(piece[1], piece[2], known, route)))
        else:
            value = draw(st.from_regex(piece[1], fullmatch=True).filter(lambda v: "\n" not in v))
            parts.append(quote(value, safe="/"))
    return "/" + "".join(parts)


@st.composite
def queries(draw, known: dict) -> dict:
    keys = draw(st.lists(st.sampled_from(QUERY_KEYS), max_size=3, unique=True))
    return {
        key: draw(st.one_of(st.sampled_from(known[key]), VALUES) if key in known else VALUES)
        for key in keys
    }


# Forms ------------------------------------------------------------------------------


class FormFields(html.parser.HTMLParser):
    """The fields (name: value) and action of each POST form on a page."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str | None, dict[str, list[str]]]] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._open = (attributes.get("method") or "get").lower() == "post"
            if self._open:
                self.forms.append((attributes.get("action"), {}))
        elif self._open and tag in ("input", "select", "textarea", "button"):
            name = attributes.get("name")
            if name:
                value = attributes.get("value") or ""
                self.forms[-1][1].setdefault(name, [])
                if value:
                    self.forms[-1][1][name].append(value)
        elif self._open and tag == "option" and self.forms[-1][1] and attributes.get("value"):
            last = list(self.forms[-1][1])[-1]
            self.forms[-1][1][last].append(attributes["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False


def page_forms(client, path: str) -> list[tuple[str, dict[str, list[str]]]]:
    response = client.get(path)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    parser = FormFields()
    parser.feed(response.text)
    return [
        ((action or path) if (action or "/").startswith("/") else path, fields)
        for action, fields in parser.forms
    ]


@st.composite
def form_data(draw, fields: dict[str, list[str]], known: dict) -> dict:
    data = {}
    for name, choices in fields.items():
        how = draw(st.sampled_from(["keep", "fuzz", "omit"]))
        if how == "keep" and choices:
            data[name] = draw(st.sampled_from(choices))
        elif how == "fuzz":
            data[name] = draw(
                st.one_of(st.sampled_from(known[name]), VALUES) if name in known else VALUES
            )
    extra = draw(st.dictionaries(st.sampled_from(QUERY_KEYS), VALUES, max_size=2))
    return extra | data


# The requests -----------------------------------------------------------------------


LAST_SNAPSHOT: list = []  # the rows after the last checked request (only requests change rows)


def check(client, method: str, path: str, data: dict) -> None:
    before = LAST_SNAPSHOT[0] if LAST_SNAPSHOT else snapshot()
    LAST_SNAPSHOT.clear()
    try:
        with transaction.atomic():  # a database error must not poison the next request
            response = getattr(client, method)(path, data)
    except Exception as error:
        raise AssertionError(f"{method.upper()} {path} {data!r} raised {error!r}") from error
    assert response.status_code < 500, f"{method.upper()} {path} {data!r}: {response.status_code}"
    refused = response.status_code >= 400 or (method == "post" and response.status_code == 200)
    after = snapshot()
    if method == "get" or refused:
        assert after == before, (
            f"{method.upper()} {path} {data!r} answered {response.status_code} and changed rows"
        )
    LAST_SNAPSHOT.append(after)


def fuzz_every_route(client, world, *, staff: bool) -> list[str]:
    known = world["known"]
    failures = []
    saved = initial = dict(client.session.items())

    def restore_session():
        # A fresh session with the saved contents each time: a fuzzed request may
        # have logged staff out, emptied the cart or flushed the session.
        store = import_module(django_settings.SESSION_ENGINE).SessionStore()
        store.update(saved)
        store.save()
        client.cookies[django_settings.SESSION_COOKIE_NAME] = store.session_key

    for route in routes():
        if staff:  # logged in again for each route (a fuzzed form may have logged them out)
            # A valid fuzzed submission may have deleted or changed the staff account
            # (the admin's user pages): save() writes it back as it was, or inserts it again.
            world["staff"].save()
            client.force_login(world["staff"])
            saved = dict(client.session.items())
        else:
            saved = initial
        restore_session()
        forms = page_forms(client, _real_path(route, known))  # as a visitor sees the page
        LAST_SNAPSHOT.clear()

        # To a shopper every admin page but the login is the login redirect: one draw.
        examples = EXAMPLES if staff or _is_shop_route(route) else 1
        one_request = _fuzzer(client, route, forms, known, restore_session, examples)
        try:
            sweep(client, route, forms, known, restore_session, KILLERS if examples > 1 else [])
            one_request()
        except AssertionError as error:
            failures.append(f"{route}: {error}".split("\nFalsifying")[0])
    return failures


def sweep(client, route: Route, forms: list, known: dict, restore_session, values) -> None:
    """Each value that breaks most, everywhere at once: in the path's parameters, in
    every query key of the real page, in every field of each of its forms."""
    has_parameters = any(
        not isinstance(piece, str) and piece[1] != "language_prefix" for piece in route.pieces
    )
    for value in values:
        restore_session()
        check(
            client,
            "get",
            _real_path(route, known) + "?" + urlencode(dict.fromkeys(QUERY_KEYS, value)),
            {},
        )
        if has_parameters:
            restore_session()
            check(client, "get", _real_path(route, known, value), {})
        for action, fields in forms:
            restore_session()
            check(client, "post", action, dict.fromkeys(fields, value))


def _is_shop_route(route: Route) -> bool:
    return not str(route).startswith("/admin/") or route.name == "login"


def _fuzzer(client, route: Route, forms: list, known: dict, restore_session, examples: int):
    """The hypothesis test for one route: draw a request, send it, check the answer."""

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(data=st.data())
    def one_request(data):
        restore_session()
        # Either one bad value in every field and parameter (the real page's
        # path, or that value in it too), or each field drawn on its own.
        uniform = data.draw(st.one_of(VALUES, st.none()), label="one value everywhere")
        real_path = uniform is not None and data.draw(st.booleans(), label="real path")
        path = data.draw(paths(route, known, real=real_path), label="path")
        if forms and data.draw(st.booleans(), label="submit a form"):
            action, fields = data.draw(st.sampled_from(forms), label="form")
            target = action if urlsplit(action).path else path
            if uniform is None:
                body = data.draw(form_data(fields, known), label="fields")
            else:
                body = dict.fromkeys(fields, uniform)
            check(client, "post", target, body)
        else:
            method = data.draw(st.sampled_from(["get", "post"]), label="method")
            if uniform is None:
                query = data.draw(queries(known), label="query")
            else:
                query = dict.fromkeys(QUERY_KEYS, uniform)
            if method == "get":
                check(client, "get", path + ("?" + urlencode(query) if query else ""), {})
            else:
                check(client, "post", path, query)

    return one_request


def _real_path(route: Route, known: dict, value: str | None = None) -> str:
    """The route with real ids in it: the page a visitor would see, and its forms
    (or with ``value`` in every parameter)."""
    parts = []
    for piece in route.pieces:
        if isinstance(piece, str):
            parts.append(piece)
        elif value is not None and piece[1] != "language_prefix":
            parts.append(quote(value, safe=""))
        elif piece[0] == "param":
            real = known.get(piece[2]) or (object_ids(route) if piece[2] == "object_id" else [])
            parts.append(real[0] if real else "1")
        else:
            parts.append("")
    return "/" + "".join(parts)


def test_the_walk_finds_every_kind_of_route():
    names = {route.name for route in routes()}
    for expected in (
        "product_detail",
        "checkout_review",
        "order_reauthorize_return",
        "card_form",
        "challenge",
        "stripe_webhook",
        "orders_order_ship",
        "payments_order_refund",
        "orders_order_change",
        "login",
    ):
        assert expected in names
    assert len(routes()) > 80


def test_no_input_breaks_a_page_for_a_shopper(client, world):
    failures = fuzz_every_route(client, world, staff=False)
    assert failures == [], "\n\n".join(failures)


def test_no_input_breaks_a_page_for_staff(client, world):
    client.force_login(world["staff"])
    failures = fuzz_every_route(client, world, staff=True)
    assert failures == [], "\n\n".join(failures)


class FakeClient:
    """Stands for the test client: answers ``status``, raises, or changes a row."""

    def __init__(self, status=200, raises=None, changes=False):
        self.status, self.raises, self.changes = status, raises, changes

    def get(self, path, data):
        if self.raises:
            raise self.raises
        if self.changes:
            ProductVariant.objects.update(stock=F("stock") + 1)

        class Response:
            status_code = self.status

        return Response()

    post = get


def test_the_checks_can_fail(world):
    """An exception, a 5xx, or a refused request that changed a row: each is reported."""
    with pytest.raises(AssertionError, match="boom"):
        check(FakeClient(raises=ValueError("boom")), "get", "/x/", {})
    with pytest.raises(AssertionError, match="503"):
        check(FakeClient(status=503), "get", "/x/", {})
    with pytest.raises(AssertionError, match="changed rows"):
        check(FakeClient(status=404, changes=True), "post", "/x/", {})
    with pytest.raises(AssertionError, match="changed rows"):
        check(FakeClient(status=200, changes=True), "get", "/x/", {})
    check(FakeClient(status=302, changes=True), "post", "/x/", {})  # a valid submission
