"""Logs an operator can use: a request id on every line, JSON in production.

- ``RequestIdMiddleware`` gives each request an id (the proxy's ``X-Request-ID``
  when it sends a sane one), keeps it in a context variable for the request's
  duration and returns it in the response's ``X-Request-ID`` header.
- ``RequestIdFilter`` puts that id on every log record (``-`` outside a request)
  and redacts what must never be logged, whatever a caller passes: card
  numbers, card session and token ids, client secrets, API keys and signing
  secrets.
- ``JsonFormatter`` writes one JSON object per line (``DEBUG`` off);
  ``ReadableFormatter`` a plain line with the same fields (development).

Payment events carry their fields in ``extra={"event": {...}}`` (see
``payments.operations.engine.log_event``).
"""

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# What may never reach a log line, whatever logs it.
_SECRETS = re.compile(
    r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])"  # a card number, spaced or not
    r"|\b(?:cs|tok|ctoken|seti|pm)_[A-Za-z0-9]{8,}"  # card sessions and tokens
    r"|\bpi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"  # a PaymentIntent's client secret
    r"|\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+"  # API keys
    r"|\bwhsec_[A-Za-z0-9+/=]+"  # webhook signing secrets
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRETS.sub(REDACTED, text)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Left set after the response: Django logs a 4xx/5xx after the middleware
        # returns; the next request in this context sets its own.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` and redacts secrets from the message and the event's fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            record.event = {
                key: redact(value) if isinstance(value, str) else value
                for key, value in event.items()
            }
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message, event fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            line |= event
        if record.exc_info or record.exc_text:
            line["exception"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class ReadableFormatter(logging.Formatter):
    """A plain line for development, the event's fields as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        text = super().format(record)
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            text += " " + " ".join(f"{key}={value}" for key, value in event.items())
        return text
