"""Websocket routes: one, shared by every live page (see apps.core.consumers)."""

from django.urls import path

from apps.core.consumers import LiveConsumer

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi())]
