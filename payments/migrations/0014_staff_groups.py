"""The Warehouse and Finance groups, with exactly their part of the back office.

Permissions are created here (``post_migrate`` has not run yet on a fresh
database); running it again changes nothing.
"""

from django.db import migrations

GROUPS = {
    "Warehouse": [
        ("orders", "order", "view_order", "Can view order"),
        ("orders", "order", "ship_order", "Can mark orders shipped"),
        ("orders", "order", "correct_order_address", "Can correct a placed order's address"),
    ],
    "Finance": [
        ("orders", "order", "view_order", "Can view order"),
        ("orders", "order", "cancel_order", "Can cancel orders"),
        ("payments", "payment", "view_payment", "Can view payment"),
        ("payments", "payment", "review_payment", "Can approve payments under fraud review"),
        ("payments", "payment", "refund_payment", "Can refund payments"),
        ("payments", "payment", "retry_capture", "Can retry failed captures"),
        ("payments", "payment", "resend_customer_email", "Can resend customer e-mails"),
        ("payments", "payment", "reconcile_payments", "Can reconcile payments with the provider"),
        ("payments", "paymentledgerentry", "view_paymentledgerentry", "Can view ledger entry"),
        ("payments", "customeremail", "view_customeremail", "Can view customer e-mail"),
        ("payments", "providerevent", "view_providerevent", "Can view provider event"),
    ],
}


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for group_name, permissions in GROUPS.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        for app_label, model, codename, name in permissions:
            content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("orders", "0004_permissions"),
        ("payments", "0013_permissions"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
