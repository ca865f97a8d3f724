"""Websocket routes of every app."""

from apps.health.routing import websocket_urlpatterns as health_routes
from apps.incidents.routing import websocket_urlpatterns as incident_routes
from apps.remediation.routing import websocket_urlpatterns as remediation_routes

websocket_urlpatterns = [*incident_routes, *health_routes, *remediation_routes]
