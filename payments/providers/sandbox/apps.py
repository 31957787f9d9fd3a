from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxConfig(AppConfig):
    """The offline payment service: its own tables, pages and rules, like a remote one."""

    name = "payments.providers.sandbox"
    label = "sandbox"
    verbose_name = _("Sandbox payment service")
