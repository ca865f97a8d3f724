"""Events other apps react to (connected in their AppConfig.ready()). Sent after commit."""

from django.dispatch import Signal

# Sent once an incident's declaration has committed; kwargs: incident_id.
incident_declared = Signal()

# Sent once a notification's acknowledgement, recorded by a user on the notification log, has
# committed; kwargs: incident_id, entry_id, user_id.
notification_acknowledged = Signal()

# Sent once a status change has committed; kwargs: incident_id, from_status, to_status.
incident_status_changed = Signal()
