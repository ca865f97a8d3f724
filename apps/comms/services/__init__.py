"""Every state change of stakeholder communications, one module per responsibility:

- `updates`: posting an update (and the public incident, components and mail it moves);
- `cadence`: reminding the coordinator when an update is overdue;
- `mailing`: the subscribers' mail, from the notice to each delivery's outcome;
- `subscriptions`: subscribing, confirming, unsubscribing;
- `maintenance`: announcing, cancelling and finishing maintenance windows;
- `components`: the status page's components.

Reads are in `apps.comms.selectors` (signed-in pages) and `apps.comms.snapshot` (public pages).
"""
