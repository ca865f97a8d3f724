from django.urls import path

from apps.incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.board, name="board"),
    path("incidents/", views.incident_list, name="list"),
    path("incidents/new/", views.incident_declare, name="declare"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/timeline.json", views.timeline_json, name="timeline_json"),
    path("incidents/<int:pk>/timeline.md", views.timeline_markdown, name="timeline_md"),
    path("incidents/<int:pk>/status/", views.incident_change_status, name="status"),
    path("incidents/<int:pk>/details/", views.incident_update_details, name="details"),
    path("incidents/<int:pk>/checklist/<int:item_pk>/<str:state>/", views.checklist_item_state, name="checklist"),
    path("incidents/<int:pk>/notifications/", views.notification_add, name="notification_add"),
    path(
        "incidents/<int:pk>/notifications/<int:entry_pk>/ack/",
        views.notification_acknowledge,
        name="notification_ack",
    ),
    path("incidents/<int:pk>/notes/", views.note_add, name="note_add"),
]
