"""What a page says: what happened, how bad, since when, which runbook, the incident's link and
the acknowledgement link (the procedures: "provide clear, concise information about the issue")."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from apps.paging import tokens
from apps.paging.models import Channel, Page, PathLevel
from apps.paging.transports import Message
from apps.runbooks.models import SCENARIO_DESCRIPTIONS, Runbook, Scenario

SMS_LIMIT = 320


def _render(name: str, context: dict[str, Any]) -> str:
    return render_to_string(f"paging/messages/{name}", context).strip()


class PageMessage:
    """The page for `page`'s contact, with their own acknowledgement link. Each form is rendered
    when a channel first asks for it: a page that goes out by webhook renders only the chat text."""

    def __init__(self, page: Page, levels: list[PathLevel]) -> None:
        incident = page.incident
        runbook = Runbook.objects.filter(scenario=incident.scenario).only("title").first()
        by_position = {level.position: level for level in levels}
        self.context = {
            "incident": incident,
            "page": page,
            "scenario_description": SCENARIO_DESCRIPTIONS.get(Scenario(incident.scenario), ""),
            "runbook_title": runbook.title if runbook else incident.get_scenario_display(),
            "runbook_url": settings.SITE_URL + reverse("runbooks:scenario", args=[incident.scenario]),
            "incident_url": settings.SITE_URL + reverse("incidents:detail", args=[incident.pk]),
            "ack_url": tokens.ack_url(page_id=page.pk, contact_id=page.contact_id or 0, incident_id=incident.pk),
            "ack_hours": settings.PAGING_ACK_LINK_HOURS,
            "levels_total": len(levels),
            "next_level": by_position.get(page.level + 1),
        }
        subject = (
            f"[{incident.get_severity_display()}] {incident.reference} {incident.get_scenario_display()}: "
            f"{incident.title}"
        )
        self.subject = subject[:200]

    @cached_property
    def text(self) -> str:
        return _render("page.txt", self.context)

    @cached_property
    def html(self) -> str:
        return _render("page.html", self.context)

    @cached_property
    def chat(self) -> str:
        return _render("page_chat.txt", self.context)

    @cached_property
    def sms(self) -> str:
        sms = _render("page_sms.txt", self.context)
        return sms if len(sms) <= SMS_LIMIT else sms[: SMS_LIMIT - 1] + "…"


def verification_message(channel: Channel) -> Message:
    context = {
        "channel": channel,
        "contact": channel.contact,
        "verify_url": tokens.verify_url(channel_id=channel.pk, address=channel.address),
        "days": settings.PAGING_VERIFY_LINK_DAYS,
    }
    return Message(
        subject="Incident Center: please confirm your emergency contact details",
        text=_render("verify.txt", context),
        html=_render("verify.html", context),
        chat=_render("verify_chat.txt", context),
        sms=_render("verify_sms.txt", context),
    )
