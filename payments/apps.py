from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from orders.signals import order_cancelled, order_shipped
        from payments import receivers

        order_shipped.connect(
            receivers.capture_payment_on_order_shipped,
            dispatch_uid="payments.capture_payment_on_order_shipped",
        )
        order_cancelled.connect(
            receivers.void_payment_on_order_cancelled,
            dispatch_uid="payments.void_payment_on_order_cancelled",
        )
