from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBase
from django.shortcuts import redirect, render

from apps.accounts.forms import AccountForm
from apps.core.http import AppRequest


@login_required
def account(request: AppRequest) -> HttpResponseBase:
    """Every signed-in user edits their own name, email and time zone (never their role)."""
    form = AccountForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your account is saved.")
        return redirect("account")
    return render(request, "accounts/account.html", {"form": form}, status=400 if request.method == "POST" else 200)
