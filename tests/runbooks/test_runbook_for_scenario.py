"""/runbooks/scenario/<scenario>/ leads to the scenario's runbook; an unknown scenario is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.runbooks.models import Runbook

pytestmark = pytest.mark.django_db


def test_it_redirects_to_the_scenarios_runbook(responder_client: Client, procedures: list[Runbook]) -> None:
    runbook = Runbook.objects.get(scenario="security_breach")

    response = responder_client.get(reverse("runbooks:scenario", args=["security_breach"]))

    assert response.status_code == 302
    assert response["Location"] == reverse("runbooks:detail", args=[runbook.pk])


def test_an_unknown_scenario_is_not_found(responder_client: Client, procedures: list[Runbook]) -> None:
    response = responder_client.get(reverse("runbooks:scenario", args=["alien_invasion"]))

    assert response.status_code == 404


def test_a_known_scenario_without_a_runbook_is_not_found(responder_client: Client, procedures: list[Runbook]) -> None:
    Runbook.objects.filter(scenario="data_corruption").delete()

    response = responder_client.get(reverse("runbooks:scenario", args=["data_corruption"]))

    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, procedures: list[Runbook]) -> None:
    url = reverse("runbooks:scenario", args=["security_breach"])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
