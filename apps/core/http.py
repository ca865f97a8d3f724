from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from apps.accounts.models import User


class AppRequest(HttpRequest):
    """A request to a signed-in view (`login_required` guarantees the user), with htmx details."""

    user: User
    htmx: HtmxDetails
