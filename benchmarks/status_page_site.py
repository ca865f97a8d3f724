"""Settings and URLconf of the server `status_page.py` starts: the product's settings and URLs,
plus one bare view that returns a constant page, the baseline of the same run. Not used by the
product: the bare view exists only here.

    DJANGO_SETTINGS_MODULE=status_page_site PYTHONPATH=benchmarks uvicorn incidentcenter.asgi:application
"""

from __future__ import annotations

from typing import Any

from incidentcenter.settings import *  # noqa: F403 - the product's settings, unchanged

ROOT_URLCONF = "status_page_site"

BARE_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Bare</title></head>"
    b"<body><p>A constant page from a bare Django view.</p></body></html>"
)


def _urlpatterns() -> list[Any]:
    from django.http import HttpRequest, HttpResponse
    from django.urls import include, path

    def bare(request: HttpRequest) -> HttpResponse:
        return HttpResponse(BARE_PAGE)

    return [path("bench/bare/", bare), path("", include("incidentcenter.urls"))]


def __getattr__(name: str) -> Any:
    # The URLconf is read after Django has started, unlike the settings above.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)
