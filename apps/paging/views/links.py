"""The links in pages and verification messages: they work without signing in.

A GET only shows what the link is for and a button: mail scanners and chat unfurlers fetch links,
and must not acknowledge a page or verify a channel. The POST (with CSRF) does it. A bad or
altered link answers 400, a link that matches nothing 404, each with a page that says so.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.paging import tokens
from apps.paging.models import Escalation, Page
from apps.paging.services import responses, verification
from apps.paging.services.errors import AlreadyAcknowledged, PagingError

ACK_TEMPLATE = "paging/ack.html"
VERIFY_TEMPLATE = "paging/verify.html"


def _problem(request: HttpRequest, template: str, message: str, status: int, **extra: object) -> HttpResponse:
    response = render(request, template, {"problem": message, **extra}, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, incident_pk: int, token: str) -> HttpResponse:
    try:
        claim = tokens.read_ack_token(token)
    except tokens.LinkError as exc:
        hint = "Sign in to Incident Center to acknowledge from the incident page." if exc.expired else ""
        return _problem(request, ACK_TEMPLATE, str(exc), 400, hint=hint)
    if claim.incident_id != incident_pk:
        return _problem(request, ACK_TEMPLATE, "This acknowledgement link is for another incident.", 404)
    page = (
        Page.objects.select_related("incident", "escalation", "contact")
        .filter(pk=claim.page_id, incident_id=claim.incident_id, contact_id=claim.contact_id)
        .first()
    )
    if page is None:
        return _problem(request, ACK_TEMPLATE, "This acknowledgement link does not match any page.", 404)
    outcome = ""
    if request.method == "POST":
        if page.contact is None:
            return _problem(request, ACK_TEMPLATE, "The contact of this page was removed.", 404)
        try:
            responses.escalation_acknowledge(
                incident_id=page.incident_id, contact=page.contact, page=page, via="acknowledgement link"
            )
            outcome = "acknowledged"
        except AlreadyAcknowledged:
            outcome = "already"
        except PagingError as exc:
            return _problem(request, ACK_TEMPLATE, str(exc), 409, page=page)
    escalation = Escalation.objects.select_related("incident").get(pk=page.escalation_id)
    response = render(request, ACK_TEMPLATE, {"page": page, "escalation": escalation, "outcome": outcome})
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    try:
        channel = verification.channel_for_token(token)
    except tokens.LinkError as exc:
        hint = "Ask an Incident Center admin to send a new verification message." if exc.expired else ""
        return _problem(request, VERIFY_TEMPLATE, str(exc), 400, hint=hint)
    except verification.VerificationError as exc:
        return _problem(request, VERIFY_TEMPLATE, str(exc), 404)
    outcome = ""
    if request.method == "POST":
        channel, fresh = verification.channel_verify(token=token)
        outcome = "verified" if fresh else "already"
    response = render(request, VERIFY_TEMPLATE, {"channel": channel, "outcome": outcome})
    response["X-Robots-Tag"] = "noindex"
    return response
