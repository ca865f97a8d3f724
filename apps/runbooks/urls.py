from django.urls import path

from apps.runbooks import views

app_name = "runbooks"

urlpatterns = [
    path("", views.runbook_list, name="list"),
    path("<int:pk>/", views.runbook_detail, name="detail"),
    path("<int:pk>/edit/", views.runbook_edit, name="edit"),
    path("<int:pk>/reviewed/", views.runbook_mark_reviewed, name="reviewed"),
    path("scenario/<str:scenario>/", views.runbook_for_scenario, name="scenario"),
]
