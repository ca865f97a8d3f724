from django.urls import path

from apps.remediation import views

app_name = "remediation"

urlpatterns = [
    path("", views.run_list, name="list"),
    path("new/<str:action_key>/", views.run_new, name="new"),
    path("<int:pk>/", views.run_detail, name="run"),
    path("<int:pk>/approve/", views.run_approve, name="approve"),
    path("<int:pk>/reject/", views.run_reject, name="reject"),
    path("<int:pk>/cancel/", views.run_cancel, name="cancel"),
    path("<int:pk>/keep/", views.run_keep, name="keep"),
    path("files/", views.files, name="files"),
    path("files/<int:pk>/download/", views.file_download, name="download"),
]
