from django.urls import path

from apps.health import consumers

websocket_urlpatterns = [path("ws/health/", consumers.HealthConsumer.as_asgi())]
