from django.urls import path

from payments.providers.stripe import views

app_name = "stripe"
urlpatterns = [
    path("pay/", views.payment_form, name="payment_form"),
    path("next-action/", views.next_action, name="next_action"),
]
