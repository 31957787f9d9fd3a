from django.urls import path

from payments.providers.sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("pay/<str:session_id>/", views.card_form, name="card_form"),
    path("3ds/<str:charge_id>/", views.challenge, name="challenge"),
]
