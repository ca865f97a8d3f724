"""Events other apps react to (connected in their AppConfig.ready()). Sent after commit."""

from django.dispatch import Signal

# Sent once an incident's declaration has committed; kwargs: incident_id.
incident_declared = Signal()
