"""On-demand security snapshots follow their transition table: a requested snapshot is claimed
by its host's worker once, then stored as done or failed, and never taken again."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.core.transitions import TransitionError
from apps.health import services
from apps.health.models import Host, SecuritySnapshot

pytestmark = pytest.mark.django_db
Status = SecuritySnapshot.Status


def _requested(responder: User) -> SecuritySnapshot:
    host = Host.objects.create(name="web-1")
    return SecuritySnapshot.objects.create(host=host, kind=SecuritySnapshot.Kind.PORTS, requested_by=responder)


def test_a_snapshot_is_claimed_once_then_stored(responder: User) -> None:
    snapshot = _requested(responder)

    claimed = services.snapshot_claim(snapshot.pk)
    assert claimed is not None
    assert claimed.status == Status.TAKING
    assert services.snapshot_claim(snapshot.pk) is None  # a duplicate message takes nothing

    services.snapshot_store(snapshot=claimed, data={"ports": []})
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.data) == (Status.DONE, {"ports": []})
    assert services.snapshot_claim(snapshot.pk) is None


def test_a_failure_is_stored_with_its_reason(responder: User) -> None:
    claimed = services.snapshot_claim(_requested(responder).pk)
    assert claimed is not None
    services.snapshot_store(snapshot=claimed, data={}, error="PermissionError: /proc")
    claimed.refresh_from_db()
    assert (claimed.status, claimed.error) == (Status.FAILED, "PermissionError: /proc")


def test_an_unclaimed_or_finished_snapshot_cannot_be_stored(responder: User) -> None:
    snapshot = _requested(responder)
    with pytest.raises(TransitionError):
        services.snapshot_store(snapshot=snapshot, data={})
    claimed = services.snapshot_claim(snapshot.pk)
    assert claimed is not None
    services.snapshot_store(snapshot=claimed, data={})
    with pytest.raises(TransitionError):
        services.snapshot_store(snapshot=claimed, data={}, error="late")
    assert SecuritySnapshot.TRANSITIONS.is_final(Status.DONE)
    assert SecuritySnapshot.TRANSITIONS.is_final(Status.FAILED)
