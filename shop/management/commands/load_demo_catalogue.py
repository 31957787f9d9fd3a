"""``manage.py load_demo_catalogue [--force]``: fill the shop with demo products."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from shop.demo import load_demo_catalogue


class Command(BaseCommand):
    help = (
        "Create the demo catalogue (a dozen products with sizes and pictures). "
        "Does nothing when the shop already has products, unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help=(
                "Add the demo products whose slug is not used yet, even if the shop "
                "already has products. Nothing is deleted or changed."
            ),
        )

    def handle(self, *args, force: bool = False, **options):
        try:
            created = load_demo_catalogue(force=force)
        except DatabaseError as exc:
            raise CommandError(
                f"Could not write the demo catalogue to the database ({exc}). "
                "Has `manage.py migrate` been run?"
            ) from exc
        except OSError as exc:
            raise CommandError(
                f"Could not save the product pictures ({exc}). Check MEDIA_ROOT is writable."
            ) from exc

        if created:
            noun = "product" if created == 1 else "products"
            self.stdout.write(self.style.SUCCESS(f"Created {created} demo {noun}."))
        elif force:
            self.stdout.write("All demo products already exist: nothing was created.")
        else:
            self.stdout.write(
                "The catalogue already has products: nothing was done. "
                "Use --force to add the missing demo products."
            )
