"""A task worker that kills itself (SIGKILL) around the sandbox's capture, for the crash tests.

``python -m tests.payments.concurrency.faulty_worker kill_before_capture`` (or
``kill_after_capture``) wraps the sandbox gateway's ``capture`` in this process
only, then runs ``manage.py db_worker --batch``: killed right before the
sandbox is asked, or right after it committed the capture and before the shop
wrote it down. Production code carries no hook for it.
"""

import os
import signal
import sys

FAULTS = ("kill_before_capture", "kill_after_capture")


def main(fault: str) -> None:
    if fault not in FAULTS:
        raise SystemExit(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from payments.providers.sandbox import gateway

    capture = gateway.capture

    def capture_then_die(**kwargs):
        if fault == "kill_before_capture":
            os.kill(os.getpid(), signal.SIGKILL)
        answer = capture(**kwargs)
        # The capture is committed at the sandbox; the shop has not written it down yet.
        os.kill(os.getpid(), signal.SIGKILL)
        return answer

    gateway.capture = capture_then_die
    call_command("db_worker", batch=True, startup_delay=False, reload=False)


if __name__ == "__main__":
    main(sys.argv[1])
