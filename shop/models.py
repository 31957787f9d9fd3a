from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Product(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="products/", blank=True)
    image_alt = models.CharField(
        _("image description"),
        max_length=250,
        blank=True,
        help_text=_("What the picture shows, read aloud to shoppers who cannot see it."),
    )
    price_amount = models.PositiveIntegerField(
        _("price (cents)"), help_text=_("In minor units: 12900 means 129.00.")
    )
    currency = models.CharField(_("currency"), max_length=3, default=settings.SHOP_CURRENCY)
    is_active = models.BooleanField(_("on sale"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_amount__gt=0), name="product_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product_detail", kwargs={"slug": self.slug})


class ProductVariant(models.Model):
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="variants", verbose_name=_("product")
    )
    size = models.CharField(_("size"), max_length=20)
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    stock = models.PositiveIntegerField(_("stock"), default=0)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["product", "position", "pk"]
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [
            models.UniqueConstraint(fields=["product", "size"], name="variant_unique_size"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} – {self.size}"

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


class BlockedCheckoutAttempt(models.Model):
    """Payment attempts refused by a card-testing limit, one row per IP, e-mail and limit.

    Written when the checkout refuses an attempt (``shop.checkout.limits``);
    staff read them in the admin. A row counts its attempts instead of adding
    rows, and rows last blocked more than ``DECLINED_ORDER_RETENTION_DAYS``
    ago are purged (``shop.checkout.limits.limits_purge_blocked``).
    """

    ip_address = models.CharField(_("IP address"), max_length=45, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    limit = models.CharField(_("limit reached"), max_length=32)
    count = models.PositiveIntegerField(_("attempts blocked"), default=0)
    first_at = models.DateTimeField(_("first blocked"), auto_now_add=True)
    last_at = models.DateTimeField(_("last blocked"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("blocked payment attempt")
        verbose_name_plural = _("blocked payment attempts")
        ordering = ["-last_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["ip_address", "email", "limit"],
                name="blocked_attempt_once_per_ip_email_limit",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ip_address or '-'} {self.email or '-'} ({self.limit})"
