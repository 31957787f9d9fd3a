from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    APPLE_PAY = "apple_pay", "Apple Pay"
    GOOGLE_PAY = "google_pay", "Google Pay"
    PAYPAL = "paypal", "PayPal"
    ALIPAY = "alipay", "Alipay"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Authorizing")
    IN_REVIEW = "in_review", _("In fraud review")
    AUTHORIZED = "authorized", _("Authorized (held, not debited)")
    PARTIALLY_CAPTURED = "partially_captured", _("Partially debited")
    CAPTURED = "captured", _("Debited")
    VOIDED = "voided", _("Hold released")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")
    FAILED = "failed", _("Declined")
    EXPIRED = "expired", _("Authorization expired")


# The one place that says which status may follow which; services check it.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    # Methods without a separate capture (Alipay) are captured at the order.
    PaymentStatus.PENDING: frozenset(
        {
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.IN_REVIEW,
            PaymentStatus.FAILED,
        }
    ),
    PaymentStatus.IN_REVIEW: frozenset(
        {PaymentStatus.AUTHORIZED, PaymentStatus.VOIDED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.AUTHORIZED: frozenset(
        {
            PaymentStatus.PARTIALLY_CAPTURED,
            PaymentStatus.CAPTURED,
            PaymentStatus.VOIDED,
            PaymentStatus.EXPIRED,
        }
    ),
    # Refunds of what was captured leave a partly captured payment partly
    # captured: the rest of the authorization can still be captured.
    PaymentStatus.PARTIALLY_CAPTURED: frozenset(
        {PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.CAPTURED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.CAPTURED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.VOIDED: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.EXPIRED: frozenset(),
}
# Named sets of statuses, beside the table; code uses these, never a tuple of its own.
CAPTURABLE_STATUSES = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_CAPTURED})
# A hold exists at the provider: what can lapse, and what a void releases.
HOLDING_STATUSES = CAPTURABLE_STATUSES | {PaymentStatus.IN_REVIEW}
VOIDABLE_STATUSES = HOLDING_STATUSES
REFUNDABLE_STATUSES = frozenset(
    {
        PaymentStatus.PARTIALLY_CAPTURED,
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.EXPIRED,
    }
)
# The hold is gone (lapsed, declined, released): a new authorization may replace it.
REPLACEABLE_STATUSES = frozenset(
    {PaymentStatus.EXPIRED, PaymentStatus.FAILED, PaymentStatus.VOIDED}
)


class Payment(models.Model):
    """One payment attempt for an order: the authorization and what followed it.

    Card data is limited to what may be kept: brand, last four digits and
    expiry. The amounts are those confirmed by the provider; the ledger holds
    every call that led to them.
    """

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="payments", verbose_name=_("order")
    )
    provider = models.CharField(_("provider"), max_length=32)
    method = models.CharField(
        _("method"), max_length=32, choices=PaymentMethod.choices, default=PaymentMethod.CARD
    )
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    payment_token = models.CharField(
        _("payment token"),
        max_length=255,
        blank=True,
        help_text=_("The provider's single-use token for the card; never the card itself."),
    )
    status = models.CharField(
        _("status"),
        max_length=32,
        choices=PaymentStatus.choices,
        default=PaymentStatus.PENDING,
        db_index=True,
    )
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.PositiveIntegerField(_("amount asked (cents)"))
    authorized_amount = models.PositiveIntegerField(_("authorized (cents)"), default=0)
    captured_amount = models.PositiveIntegerField(_("captured (cents)"), default=0)
    refunded_amount = models.PositiveIntegerField(_("refunded (cents)"), default=0)
    card_brand = models.CharField(_("card brand"), max_length=20, blank=True)
    card_last4 = models.CharField(_("last four digits"), max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    action_url = models.CharField(
        _("authentication page"),
        max_length=500,
        blank=True,
        help_text=_("Where the shopper authenticates (3-D Secure) before the authorization."),
    )
    return_url = models.CharField(
        _("return page"),
        max_length=500,
        blank=True,
        help_text=_("Where the shopper comes back after authenticating; sent with every retry."),
    )
    authorized_at = models.DateTimeField(_("authorized"), null=True, blank=True)
    authorization_expires_at = models.DateTimeField(
        _("capture before"), null=True, blank=True, db_index=True
    )
    expiry_warning_sent_at = models.DateTimeField(_("expiry warning sent"), null=True, blank=True)
    needs_attention = models.BooleanField(
        _("needs attention"),
        default=False,
        db_index=True,
        help_text=_("A capture, void or refund failed for good, or the authorization expired."),
    )
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    failure_message = models.TextField(_("failure message"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        permissions = [
            ("review_payment", _("Can approve payments under fraud review")),
            ("refund_payment", _("Can refund payments")),
            ("retry_capture", _("Can retry failed captures")),
            ("resend_customer_email", _("Can resend customer e-mails")),
            ("reconcile_payments", _("Can reconcile payments with the provider")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(captured_amount__lte=models.F("authorized_amount")),
                name="payment_captured_within_authorized",
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__lte=models.F("captured_amount")),
                name="payment_refunded_within_captured",
            ),
            models.CheckConstraint(
                condition=models.Q(authorized_amount__lte=models.F("amount")),
                name="payment_authorized_within_asked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} – {self.get_status_display()}"

    def can_transition_to(self, status: str) -> bool:
        return status in PAYMENT_TRANSITIONS[self.status]

    @property
    def capturable_amount(self) -> int:
        if self.status not in CAPTURABLE_STATUSES:
            return 0
        return self.authorized_amount - self.captured_amount

    @property
    def refundable_amount(self) -> int:
        return self.captured_amount - self.refunded_amount

    @property
    def card_display(self) -> str:
        """How the shopper paid: "Visa •••• 4242", "Apple Pay (Visa •••• 1881)", "PayPal"."""
        if not self.card_last4:
            return "" if self.method == PaymentMethod.CARD else self.get_method_display()
        card = f"{self.card_brand} •••• {self.card_last4}"
        if self.method != PaymentMethod.CARD:
            return f"{self.get_method_display()} ({card})"
        return card


class LedgerOperation(models.TextChoices):
    AUTHORIZE = "authorize", _("Authorization")
    CAPTURE = "capture", _("Capture")
    VOID = "void", _("Void")
    REFUND = "refund", _("Refund")
    APPROVE_REVIEW = "approve_review", _("Fraud review approval")
    EXPIRE = "expire", _("Authorization expiry")


class LedgerEvent(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ATTEMPTED = "attempted", _("Sent to provider")
    RETRY_SCHEDULED = "retry", _("Retry scheduled")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


# Events after which nothing more happens for a key.
TERMINAL_EVENTS = frozenset({LedgerEvent.SUCCEEDED, LedgerEvent.FAILED})


class AppendOnlyError(Exception):
    """A ledger entry was about to be changed or deleted; entries are only ever added."""


def ledger_q_money_held() -> models.Q:
    """Entries showing money held or moved, or maybe: any success but a void of 0 (an
    abandoned authentication cancelled), any operation but authorize and void, a failed void."""
    return (
        (
            models.Q(event=LedgerEvent.SUCCEEDED)
            & (~models.Q(operation=LedgerOperation.VOID) | models.Q(amount__gt=0))
        )
        | ~models.Q(operation__in=[LedgerOperation.AUTHORIZE, LedgerOperation.VOID])
        | models.Q(operation=LedgerOperation.VOID, event=LedgerEvent.FAILED)
    )


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Ledger entries cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Ledger entries cannot be deleted.")

    def retention_delete(self) -> int:
        """The ledger's one way out, for ``payments.operations.retention`` only (a test
        checks): refuses, deleting nothing, if an entry shows money or its payment did not fail."""
        if (
            self.filter(ledger_q_money_held()).exists()
            or self.exclude(payment__status=PaymentStatus.FAILED).exists()
        ):
            raise AppendOnlyError(
                "Only the entries of declined payments that never held money can be purged."
            )
        deleted, _by_model = models.QuerySet.delete(self)
        return deleted


class PaymentLedgerEntry(models.Model):
    """An append-only record of a money operation: asked for, sent, and its outcome.

    ``idempotency_key`` names the business operation (``capture-shipment-12``);
    the same key is sent to the provider, and the database allows at most one
    success and one request per key.
    """

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="ledger", verbose_name=_("payment")
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        related_name="payment_ledger",
        verbose_name=_("order"),
    )
    shipment = models.ForeignKey(
        "orders.Shipment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_ledger",
        verbose_name=_("shipment"),
    )
    operation = models.CharField(_("operation"), max_length=16, choices=LedgerOperation.choices)
    event = models.CharField(_("event"), max_length=16, choices=LedgerEvent.choices)
    amount = models.PositiveIntegerField(_("amount (cents)"))
    currency = models.CharField(_("currency"), max_length=3)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, db_index=True)
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("payment ledger")
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(event="succeeded"),
                name="ledger_one_success_per_key",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(event="requested"),
                name="ledger_one_request_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.get_event_display()} {self.idempotency_key}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Ledger entries cannot be changed once written.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Ledger entries cannot be deleted.")


class CustomerEmail(models.Model):
    """One e-mail to a customer about one payment event, sent at most once.

    ``key`` names the event (``captured-<ledger entry id>``). Sending claims the
    row under a lock (``claimed_at``), SMTP runs with no lock held, and
    ``sent_at`` is written once the server accepted the message; a claim whose
    sender died lapses and another run sends it, with the same ``message_id``.
    """

    class Kind(models.TextChoices):
        PLACED = "placed", _("Order placed")
        ORDER_LINK = "order_link", _("Link to the order's page, asked for")
        CAPTURED = "captured", _("Amount debited")
        REFUNDED = "refunded", _("Refund")
        # The void of the hold; the stored value keeps the customer's word for it.
        VOIDED = "released", _("Order cancelled, hold released")
        REAUTHORIZE = "reauthorize", _("Authorization expired, new one asked")
        IN_REVIEW = "in_review", _("Payment being verified")
        REVIEW_APPROVED = "review_approved", _("Payment verified, order confirmed")
        SHIPPED_PAID = "shipped_paid", _("Shipped, already paid")

    key = models.CharField(_("key"), max_length=128, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="+", verbose_name=_("order")
    )
    ledger_entry = models.ForeignKey(
        PaymentLedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("ledger entry"),
    )
    to = models.EmailField(_("to"))
    amount = models.PositiveIntegerField(_("amount (cents)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default=settings.SHOP_CURRENCY)
    created_at = models.DateTimeField(_("queued"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # Who is sending it now: a claim that lapses (CUSTOMER_EMAIL_CLAIM_SECONDS), so
    # a worker dying mid-send delays the e-mail but never loses it.
    claimed_at = models.DateTimeField(_("being sent since"), null=True, blank=True)
    # The same Message-ID on every attempt: a resend after a crash is recognisable.
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer e-mail")
        verbose_name_plural = _("customer e-mails")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.to}"


class ProviderEvent(models.Model):
    """A webhook event from a payment provider, stored once by its id, processed in the worker.

    The unique constraint makes a delivery sent twice a no-op; handlers read
    the provider's current state, so the order of arrival does not matter.
    """

    provider = models.CharField(_("provider"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="unique_provider_event")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class CardSession(models.Model):
    """A hosted card form (sandbox) or Payment Element (Stripe) opened for one checkout.

    ``reference`` names the checkout that opened it (its token); the provider's
    single-use token it returned is claimed for that checkout only
    (``payment_token`` is unique), and nothing is accepted after ``expires_at``.
    Rows are purged a day after they expire.
    """

    reference = models.CharField(_("checkout"), max_length=64, db_index=True)
    provider = models.CharField(_("provider"), max_length=32)
    # The id the shopper comes back with: the provider's session (sandbox), or ""
    # when the browser makes the token (Stripe's ConfirmationToken).
    session_id = models.CharField(_("session"), max_length=100, blank=True)
    returned_id = models.CharField(_("returned with"), max_length=100, blank=True)
    payment_token = models.CharField(
        _("payment token"), max_length=255, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("card session")
        verbose_name_plural = _("card sessions")

    def __str__(self) -> str:
        return f"{self.provider} card session for {self.reference}"


class ReconciliationRun(models.Model):
    """One comparison of the ledger with the provider's records over a period."""

    provider = models.CharField(_("provider"), max_length=32)
    period_start = models.DateTimeField(_("from"))
    period_end = models.DateTimeField(_("until"))
    started_at = models.DateTimeField(_("run at"), auto_now_add=True)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    mismatched = models.PositiveIntegerField(_("mismatches"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")

    def __str__(self) -> str:
        return f"{self.provider} {self.period_start:%Y-%m-%d} – {self.period_end:%Y-%m-%d}"


class ReconciliationItem(models.Model):
    """One record compared: what the shop's ledger and the provider each say."""

    class Outcome(models.TextChoices):
        MATCHED = "matched", _("Matched")
        MISSING_AT_SHOP = "missing_at_shop", _("Missing at the shop")
        MISSING_AT_PROVIDER = "missing_at_provider", _("Missing at the provider")
        AMOUNT_DIFFERS = "amount_differs", _("Amount differs")
        STATUS_DIFFERS = "status_differs", _("Status differs")

    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.CASCADE, related_name="items", verbose_name=_("run")
    )
    outcome = models.CharField(_("outcome"), max_length=32, choices=Outcome.choices)
    operation = models.CharField(_("operation"), max_length=16, choices=LedgerOperation.choices)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("order"),
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("payment")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, blank=True)
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    shop_amount = models.PositiveIntegerField(_("shop (cents)"), null=True, blank=True)
    provider_amount = models.PositiveIntegerField(_("provider (cents)"), null=True, blank=True)
    provider_status = models.CharField(_("provider status"), max_length=32, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default=settings.SHOP_CURRENCY)

    class Meta:
        ordering = ["run", "outcome", "pk"]
        verbose_name = _("reconciliation line")
        verbose_name_plural = _("reconciliation lines")

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.idempotency_key or self.provider_reference}"
