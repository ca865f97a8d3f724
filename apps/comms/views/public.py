"""The public status page, its feed and its Statuspage-compatible JSON: no sign-in, cached,
the same bytes for everyone (times in UTC), built from public rows only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from apps.comms import feed as atom_feed
from apps.comms import publiccache, snapshot, statuspage
from apps.comms.models import ComponentState
from apps.comms.publiccache import Payload

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"


def _respond(request: HttpRequest, payload: Payload, *, cors: bool = False) -> HttpResponse:
    if request.headers.get("If-None-Match") == payload.etag:
        response = HttpResponse(status=304)
    elif payload.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(payload.gzipped, content_type=payload.content_type)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(payload.body, content_type=payload.content_type)
    patch_vary_headers(response, ["Accept-Encoding"])
    response["ETag"] = payload.etag
    response["Cache-Control"] = f"public, max-age={settings.STATUS_PAGE_HTTP_MAX_AGE}"
    if cors:
        # Statuspage's API is read by widgets on other sites.
        response["Access-Control-Allow-Origin"] = "*"
    return response


def _page() -> Payload:
    with timezone.override(UTC):
        snap = snapshot.build()
        html = render_to_string(
            "comms/status_page.html",
            {"snapshot": snap, "page_name": settings.STATUS_PAGE_NAME, "states": ComponentState},
        )
    return Payload.make(html.encode(), HTML_TYPE, valid_for=snap.valid_for)


@require_safe
def status_page(request: HttpRequest) -> HttpResponse:
    return _respond(request, publiccache.get("page", _page))


def _incident_page(code: str) -> Payload:
    with timezone.override(UTC):
        view = snapshot.incident_view(code)
        if view is None:
            raise Http404("No such incident.")
        html = render_to_string("comms/public_incident.html", {"view": view, "page_name": settings.STATUS_PAGE_NAME})
    return Payload.make(html.encode(), HTML_TYPE)


@require_safe
def public_incident(request: HttpRequest, code: str) -> HttpResponse:
    if not code.isalnum() or len(code) != 12:
        raise Http404("No such incident.")
    return _respond(request, publiccache.get(f"incident:{code}", lambda: _incident_page(code)))


@require_safe
def feed(request: HttpRequest) -> HttpResponse:
    payload = publiccache.get("feed", lambda: Payload.make(atom_feed.atom(), "application/atom+xml; charset=utf-8"))
    return _respond(request, payload)


def _document(kind: str) -> Payload:
    snap = snapshot.build()
    body = json.dumps(statuspage.document(kind, snap), cls=DjangoJSONEncoder, separators=(",", ":"))
    return Payload.make(body.encode(), JSON_TYPE, valid_for=snap.valid_for)


def api(kind: str) -> Callable[[HttpRequest], HttpResponse]:
    """The view of one Statuspage API document."""

    @require_safe
    def view(request: HttpRequest) -> HttpResponse:
        return _respond(request, publiccache.get(f"api:{kind}", lambda: _document(kind)), cors=True)

    view.__name__ = f"api_{kind}"
    return view
