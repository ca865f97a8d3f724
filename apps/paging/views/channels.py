"""Admins manage each contact's paging channels and send verification messages."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import can_manage_setup, require
from apps.contacts.models import Contact
from apps.core.http import AppRequest
from apps.paging import selectors
from apps.paging.forms import ChannelForm
from apps.paging.models import Channel
from apps.paging.services import delivery, verification


@require_GET
@login_required
def overview(request: AppRequest) -> HttpResponse:
    """Every contact's channels; those never verified or verified too long ago first."""
    require(can_manage_setup, request.user)
    rows = selectors.channel_overview()
    return render(
        request,
        "paging/channels.html",
        {
            "attention": [row for row in rows if row.needs_attention],
            "rows": rows,
            "stale": selectors.stale_channels(),
            "verify_days": settings.CONTACT_VERIFY_DAYS,
        },
    )


@login_required
def channel_edit(request: AppRequest, contact_pk: int, pk: int | None = None) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    contact = get_object_or_404(Contact.objects.select_related("role"), pk=contact_pk)
    channel = get_object_or_404(Channel, pk=pk, contact=contact) if pk else Channel(contact=contact)
    form = ChannelForm(request.POST if request.method == "POST" else None, instance=channel, contact=contact)
    if request.method == "POST" and form.is_valid():
        saved = verification.channel_save(channel=form.save(commit=False))
        messages.success(request, f"{contact.name}: {saved} saved. Send it a verification message to confirm it works.")
        return redirect("paging:channels")
    return render(
        request,
        "paging/channel_form.html",
        {"form": form, "contact": contact, "channel": channel if pk else None},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def channel_delete(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    channel = get_object_or_404(Channel.objects.select_related("contact"), pk=pk)
    verification.channel_delete(channel=channel)
    messages.success(request, f"{channel.contact.name}: {channel} removed.")
    return redirect("paging:channels")


@require_POST
@login_required
def channel_send_verification(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    channel = get_object_or_404(Channel.objects.select_related("contact"), pk=pk)
    result = verification.channel_send_verification(channel_id=channel.pk)
    if result.ok:
        messages.success(request, f"Verification sent to {channel.contact.name} by {channel}: {result.detail}.")
    else:
        messages.error(request, f"Verification to {channel.contact.name} by {channel} failed: {result.detail}.")
    return redirect("paging:channels")


@require_POST
@login_required
def channels_from_contact(request: AppRequest, contact_pk: int) -> HttpResponseBase:
    """Set up channels from the contact sheet's primary and secondary contact fields."""
    require(can_manage_setup, request.user)
    contact = get_object_or_404(Contact, pk=contact_pk)
    found = delivery.channels_for(contact)
    if found:
        messages.success(request, f"{contact.name}: {', '.join(str(c) for c in found)}.")
    else:
        messages.error(
            request, f"{contact.name}'s contact details hold no email address or phone number: add a channel by hand."
        )
    return redirect("paging:channels")
