from django.urls import path

from apps.remediation import consumers

websocket_urlpatterns = [
    path("ws/actions/board/", consumers.RunsBoardConsumer.as_asgi()),
    path("ws/actions/<int:pk>/", consumers.RunConsumer.as_asgi()),
]
