"""Websocket routes of every app."""

from apps.incidents.routing import websocket_urlpatterns as incident_routes

websocket_urlpatterns = [*incident_routes]
