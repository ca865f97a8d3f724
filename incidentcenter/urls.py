from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.accounts import views as account_views
from apps.core import views as core_views
from apps.health import views as health_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account_views.account, name="account"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("contacts/", include("apps.contacts.urls")),
    path("runbooks/", include("apps.runbooks.urls")),
    path("health/", include("apps.health.urls")),
    path("hooks/alertmanager/", health_views.alertmanager_webhook, name="alertmanager_webhook"),
    path("paging/", include("apps.paging.urls")),
    path("actions/", include("apps.remediation.urls")),
    path("", include("apps.comms.urls")),
    path("", include("apps.incidents.urls")),
]
