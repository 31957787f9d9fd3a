import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from orders.services import order_ship
from tests.factories import ProductVariantFactory
from tests.helpers import place_order

REVIEW = "4000000000009235"


def _user(name: str, group: str | None = None, superuser: bool = False):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(name, f"{name}@example.com", "pw")
    user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def users(db):
    """One user per role: the migration's groups, a superuser, and staff with no group."""
    return {
        "warehouse": _user("warehouse", "Warehouse"),
        "finance": _user("finance", "Finance"),
        "superuser": _user("boss", superuser=True),
        "nobody": _user("nobody"),
    }


@pytest.fixture
def as_role(client, users):
    def login(role: str):
        client.force_login(users[role])
        return client

    return login


@pytest.fixture
def order(db):
    return place_order({ProductVariantFactory(product__price_amount=5000).pk: 2})


@pytest.fixture
def order_in_review(db):
    return place_order({ProductVariantFactory(product__price_amount=20000).pk: 1}, number=REVIEW)


@pytest.fixture
def shipped_order(order, run_tasks):
    """Shipped and captured: refundable, with e-mails."""
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    order.refresh_from_db()
    return order
