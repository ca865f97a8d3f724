from django.urls import path

from apps.contacts import views

app_name = "contacts"

urlpatterns = [
    path("", views.contact_sheet, name="sheet"),
    path("new/", views.contact_edit, name="create"),
    path("<int:pk>/edit/", views.contact_edit, name="edit"),
    path("<int:pk>/verify/", views.contact_verify, name="verify"),
    path("<int:pk>/delete/", views.contact_delete, name="delete"),
    path("escalation/", views.escalation_path, name="escalation"),
    path("escalation/roles/", views.contact_role_add, name="role_add"),
    path("escalation/<int:pk>/move/<str:direction>/", views.escalation_level_move, name="level_move"),
    path("escalation/<int:pk>/timeout/", views.escalation_level_timeout, name="level_timeout"),
    path("escalation/<int:pk>/remove/", views.escalation_level_remove, name="level_remove"),
]
