from django.urls import path

from apps.paging.views import channels, incident, links

app_name = "paging"

urlpatterns = [
    path("ack/<int:incident_pk>/<str:token>/", links.acknowledge, name="ack"),
    path("verify/<str:token>/", links.verify, name="verify"),
    path("incidents/<int:pk>/acknowledge/", incident.acknowledge, name="acknowledge"),
    path("incidents/<int:pk>/escalate/", incident.escalate, name="escalate"),
    path("incidents/<int:pk>/repage/", incident.repage, name="repage"),
    path("incidents/<int:pk>/start/", incident.start, name="start"),
    path("channels/", channels.overview, name="channels"),
    path("contacts/<int:contact_pk>/channels/new/", channels.channel_edit, name="channel_add"),
    path("contacts/<int:contact_pk>/channels/<int:pk>/", channels.channel_edit, name="channel_edit"),
    path(
        "contacts/<int:contact_pk>/channels/from-contact/", channels.channels_from_contact, name="channels_from_contact"
    ),
    path("channels/<int:pk>/delete/", channels.channel_delete, name="channel_delete"),
    path("channels/<int:pk>/verify/", channels.channel_send_verification, name="channel_send_verification"),
]
