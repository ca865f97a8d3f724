from django.urls import path

from apps.health import views

app_name = "health"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("hosts/<str:name>/", views.host_detail, name="host"),
    path("hosts/<str:name>/snapshots/<str:kind>/", views.snapshot_request, name="snapshot"),
    path("signals/attach/", views.signal_attach, name="signal_attach"),
]
