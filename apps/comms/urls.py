from django.urls import path

from apps.comms.views import manage, public, subscribe, updates

app_name = "comms"

urlpatterns = [
    # Public, no sign-in.
    path("status/", public.status_page, name="status"),
    path("status/feed.atom", public.feed, name="feed"),
    path("status/incidents/<str:code>/", public.public_incident, name="public_incident"),
    path("status/subscribe/", subscribe.subscribe, name="subscribe"),
    path("status/subscribe/confirm/<str:token>/", subscribe.confirm, name="confirm"),
    path("status/unsubscribe/<str:token>/", subscribe.unsubscribe, name="unsubscribe"),
    # Statuspage-compatible public API (v2).
    path("api/v2/summary.json", public.api("summary"), name="api_summary"),
    path("api/v2/status.json", public.api("status"), name="api_status"),
    path("api/v2/components.json", public.api("components"), name="api_components"),
    path("api/v2/incidents.json", public.api("incidents"), name="api_incidents"),
    path("api/v2/incidents/unresolved.json", public.api("unresolved"), name="api_unresolved"),
    path("api/v2/scheduled-maintenances.json", public.api("maintenances"), name="api_maintenances"),
    path("api/v2/scheduled-maintenances/upcoming.json", public.api("upcoming"), name="api_upcoming"),
    path("api/v2/scheduled-maintenances/active.json", public.api("active"), name="api_active"),
    # Signed in.
    path("comms/", manage.overview, name="overview"),
    path("comms/maintenance/", manage.maintenance, name="maintenance"),
    path("comms/maintenance/<int:pk>/cancel/", manage.maintenance_cancel_view, name="maintenance_cancel"),
    path("comms/maintenance/<int:pk>/finish/", manage.maintenance_finish_view, name="maintenance_finish"),
    path("comms/notices/<int:pk>/retry/", manage.notice_retry, name="notice_retry"),
    path("incidents/<int:pk>/updates/new/", updates.compose, name="compose"),
    path("incidents/<int:pk>/updates/preview/", updates.preview, name="preview"),
]

# The public API documents and the pages above, in one list for the no-leak walk of the tests.
PUBLIC_URL_NAMES = [
    "status",
    "feed",
    "subscribe",
    "api_summary",
    "api_status",
    "api_components",
    "api_incidents",
    "api_unresolved",
    "api_maintenances",
    "api_upcoming",
    "api_active",
]
