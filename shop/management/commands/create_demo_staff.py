"""``manage.py create_demo_staff [--force]``: a known staff login for demos.

The account has a published password, so it is only created in development
(``DEBUG=True``) unless ``--force`` says otherwise.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

USERNAME = "staff"
PASSWORD = "boutique-staff"  # noqa: S105 - demo account, documented on purpose
EMAIL = "staff@example.com"


class Command(BaseCommand):
    help = (
        f"Create the demo superuser {USERNAME!r} (password {PASSWORD!r}) if it does not "
        "exist. Refuses when DEBUG is off, unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Create the account even when DEBUG is off. Never do this on a public site.",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                f"Refusing to create the demo account {USERNAME!r}: its password is public "
                "and DEBUG is off. Pass --force if you really want it on this site."
            )

        User = get_user_model()
        lookup = {User.USERNAME_FIELD: USERNAME}
        try:
            if User._default_manager.filter(**lookup).exists():
                self.stdout.write(f"The user {USERNAME!r} already exists: nothing was changed.")
                return
            User._default_manager.create_superuser(**lookup, email=EMAIL, password=PASSWORD)
        except DatabaseError as exc:
            raise CommandError(
                f"Could not create the user ({exc}). Has `manage.py migrate` been run?"
            ) from exc

        self.stdout.write(
            self.style.SUCCESS(
                f"Created the superuser {USERNAME!r} (password {PASSWORD!r}, e-mail {EMAIL})."
            )
        )
