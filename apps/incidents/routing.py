from django.urls import path

from apps.incidents import consumers

websocket_urlpatterns = [
    path("ws/board/", consumers.BoardConsumer.as_asgi()),
    path("ws/incidents/<int:pk>/", consumers.IncidentConsumer.as_asgi()),
]
