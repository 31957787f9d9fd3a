"""The sandbox payment service's own records, as a real service keeps on its side.

They hold the outline of a card (brand, last four, expiry) and the test
behaviour of its number, never the number or the security code.
"""

import secrets

from django.db import models


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_session_id() -> str:
    return _id("cs")


def new_token_id() -> str:
    return _id("tok")


def new_charge_id() -> str:
    return _id("ch")


class SandboxCardSession(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        COMPLETED = "completed"

    id = models.CharField(primary_key=True, max_length=40, default=new_session_id)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    return_url = models.URLField(max_length=500)
    cancel_url = models.URLField(max_length=500)
    language = models.CharField(max_length=8)
    method = models.CharField(max_length=32, default="card")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    token = models.OneToOneField(
        "SandboxCardToken", on_delete=models.SET_NULL, null=True, related_name="session"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.id


class SandboxCardToken(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_token_id)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    behaviour = models.CharField(max_length=32)
    used_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.id} ({self.brand} {self.last4})"


class SandboxCharge(models.Model):
    class Status(models.TextChoices):
        REQUIRES_ACTION = "requires_action"
        AUTHORIZED = "authorized"
        CAPTURED = "captured"
        VOIDED = "voided"
        DECLINED = "declined"

    id = models.CharField(primary_key=True, max_length=40, default=new_charge_id)
    token = models.OneToOneField(SandboxCardToken, on_delete=models.PROTECT, related_name="charge")
    order_reference = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    authorized_amount = models.PositiveIntegerField()
    captured_amount = models.PositiveIntegerField(default=0)
    refunded_amount = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices)
    decline_code = models.CharField(max_length=32, blank=True)
    # Fraud review, as a real service's risk team runs it: "" (none), "open", "approved".
    review = models.CharField(max_length=16, blank=True)
    # Where the 3-D Secure challenge page sends the shopper back.
    return_url = models.URLField(max_length=500, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.id


class SandboxCapture(models.Model):
    """One movement of money at the sandbox: what the race tests count."""

    class Kind(models.TextChoices):
        CAPTURE = "capture"
        REFUND = "refund"

    charge = models.ForeignKey(SandboxCharge, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.idempotency_key})"


class SandboxIdempotencyRecord(models.Model):
    """The first answer given for a key; a retry with the key gets it again."""

    key = models.CharField(max_length=128, unique=True)
    operation = models.CharField(max_length=32)
    fingerprint = models.CharField(max_length=64)
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
