"""A worker whose payments check takes a few seconds, so a test can kill it mid-check.

``python -m tests.worker.chaos.slow_check_worker`` wraps the periodic job's
function in this process only (production code has no hook), then runs
``manage.py worker``.
"""

import os
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from payments.operations import recovery

    check = recovery.payment_watch_run

    def slow_check():
        time.sleep(float(os.environ.get("SLOW_CHECK_SECONDS", "4")))
        return check()

    recovery.payment_watch_run = slow_check
    call_command("worker")


if __name__ == "__main__":
    main()
