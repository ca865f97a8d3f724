"""Subscribing to the status page by mail (public, no sign-in, never cached).

Every answer is the same whether or not the address is known; every POST counts against its
client address's hourly allowance. Confirming and unsubscribing take a signed link; they happen
on a POST so that mail scanners that open links change nothing. The unsubscribe POST is the
one-click unsubscribe of RFC 8058 (mail programs send it with no CSRF token: the signed link
is the authority).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.comms import links
from apps.comms.forms import SubscribeForm
from apps.comms.links import SubscriptionError
from apps.comms.ratelimit import rate_limited
from apps.comms.services import subscriptions

# Confirming and unsubscribing cost no mail: a looser allowance than subscribing.
LINK_POSTS_PER_HOUR = 60


def _context(state: str, **extra: object) -> dict[str, object]:
    return {"page_name": settings.STATUS_PAGE_NAME, "state": state, **extra}


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "comms/subscribe.html", _context("refused"), status=429)


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if rate_limited(request, "subscribe", settings.COMMS_SUBSCRIBE_PER_HOUR):
            return _too_many(request)
        form = SubscribeForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            subscriptions.subscription_request(
                email=data["email"],
                all_components=data["scope"] == "all",
                component_codes=list(data.get("components") or []),
            )
            return render(request, "comms/subscribe.html", _context("sent", confirm_hours=settings.COMMS_CONFIRM_HOURS))
        return render(request, "comms/subscribe.html", _context("form", form=form), status=400)
    return render(request, "comms/subscribe.html", _context("form", form=SubscribeForm()))


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and rate_limited(request, "links", LINK_POSTS_PER_HOUR):
        return _too_many(request)
    try:
        if request.method == "POST":
            subscriber = subscriptions.subscription_confirm(token)
            return render(
                request,
                "comms/subscription_link.html",
                _context(
                    "confirmed",
                    components=list(subscriber.components.all()),
                    all_components=subscriber.all_components,
                ),
            )
        links.subscriber_for_confirm_token(token)
    except SubscriptionError as exc:
        return render(request, "comms/subscription_link.html", _context("broken", error=str(exc)), status=400)
    return render(request, "comms/subscription_link.html", _context("confirm", token=token))


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and rate_limited(request, "links", LINK_POSTS_PER_HOUR):
        return _too_many(request)
    try:
        if request.method == "POST":
            subscriptions.subscription_cancel(token)
            return render(request, "comms/subscription_link.html", _context("unsubscribed"))
        links.subscriber_for_unsubscribe_token(token)
    except SubscriptionError as exc:
        return render(request, "comms/subscription_link.html", _context("broken", error=str(exc)), status=400)
    return render(request, "comms/subscription_link.html", _context("unsubscribe", token=token))
