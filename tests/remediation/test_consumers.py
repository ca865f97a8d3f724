"""A run's page over the real ASGI stack and the Redis channel layer: its log lines and state
arrive live (the lines only for those who may read evidence); the board's remediation section
follows; strangers get nothing."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.accounts.models import User
from apps.core.consumers import NOT_ALLOWED, NOT_FOUND
from apps.health.models import Host
from apps.remediation import services
from apps.remediation.models import ActionRun
from tests.livesockets import TIMEOUT, Sockets, connected, live_path, login, receive_until, sockets
from tests.remediation.conftest import request_run

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
__all__ = ["sockets"]


def _page(run: ActionRun) -> str:
    return live_path(f"run.{run.pk}")


async def test_log_lines_and_the_end_of_a_run_reach_its_open_page(
    responder: User, local_host: Host, sockets: Sockets
) -> None:
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    page = await connected(sockets, _page(run), await login(responder))
    await database_sync_to_async(services.run_claim)(run_id=run.pk, worker="test")
    assert "Running" in await receive_until(page, 'id="run-head"')
    await database_sync_to_async(services.log_append)(run.pk, [("out", "restoring <table> users")])
    line = await receive_until(page, "restoring")
    assert f'hx-swap-oob="beforeend:#run-log-{run.pk}"' in line
    assert "restoring &lt;table&gt; users" in line
    await database_sync_to_async(services.run_finish)(
        run_id=run.pk, finish=services.Finish(ActionRun.State.SUCCEEDED, "All good", verified=True)
    )
    head = await receive_until(page, "All good")
    assert "Succeeded" in head


async def test_log_lines_reach_only_those_who_may_read_evidence(
    responder: User, comms: User, local_host: Host, sockets: Sockets
) -> None:
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    reader = await connected(sockets, _page(run), await login(responder))
    outsider = await connected(sockets, _page(run), await login(comms))

    await database_sync_to_async(services.log_append)(run.pk, [("out", "dumping users to /srv/evidence")])
    await database_sync_to_async(services.run_claim)(run_id=run.pk, worker="test")

    assert "dumping users" in await reader.receive_from(timeout=TIMEOUT)
    # The outsider's first message is the run's new state, without the line.
    head = await receive_until(outsider, 'id="run-head"')
    assert "Running" in head
    assert "dumping users" not in head
    assert await outsider.receive_nothing(timeout=0.3)


async def test_the_board_section_shows_a_run_waiting_for_approval(
    responder: User, manager: User, local_host: Host, sockets: Sockets
) -> None:
    from apps.remediation.models import ApprovalRule

    await database_sync_to_async(ApprovalRule.objects.create)(action="maintenance_mode", needs_approval=True)
    board = await connected(sockets, live_path("runs"), await login(manager))
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    html = await receive_until(board, "Waiting for approval")
    assert f"#{run.pk} maintenance_mode" in html


async def test_strangers_and_missing_runs_are_refused(responder: User, local_host: Host, sockets: Sockets) -> None:
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    assert await sockets(_page(run)).connect(timeout=TIMEOUT) == (False, NOT_ALLOWED)
    assert await sockets(live_path("runs")).connect(timeout=TIMEOUT) == (False, NOT_ALLOWED)
    missing = sockets(live_path("run.999999"), await login(responder))
    assert await missing.connect(timeout=TIMEOUT) == (False, NOT_FOUND)
