"""The editor rides out faults of the server side: its socket reconnects by itself and resyncs
the hints, edits made meanwhile wait in its outbox and land exactly once (counted in the
database), and previews resume.

Each test runs its own server process, so it can stop and start it (or the Redis and the
database link under it).
"""
from __future__ import annotations

import pytest
from django.db import connection
from tests.browser.conftest import log_in
from tests.browser.editor_page import click_at, open_editor, wait_settled, wait_until
from tests.processes import RedisServer, TcpProxy, database_env, start_server, start_worker, stop

from annotations.models import AuditEvent, HintRevision

LIVE = "document.getElementById('connection').textContent === 'live'"
UNSENT = "+document.getElementById('editor').dataset.pending"


def edits_landed(keyframe) -> dict:
    """What the database holds for the keyframe, counted."""
    revisions = list(HintRevision.objects.filter(keyframe=keyframe).order_by("number"))
    points = revisions[-1].content["points"]
    return {"revisions": [r.number for r in revisions], "points": len(points),
            "distinct points": len({p["id"] for p in points}),
            "audited edits": AuditEvent.objects.filter(verb="hints.edited", target_id=str(keyframe.pk)).count()}


@pytest.fixture
def own_server(tmp_path, transactional_db, celery_worker):
    servers = []

    def start(env: dict | None = None, port: int | None = None):
        servers.append(start_server(env, tmp_path / "daphne.log", port))
        return servers[-1]

    yield start
    for server in servers:
        stop(server)


def editing_then_offline(page, server, keyframe) -> None:
    """One point placed and stored, then the server stopped and the editor seen offline."""
    open_editor(page, keyframe)
    click_at(page, 12, 24)
    wait_settled(page, 2)
    stop(server)
    wait_until(page, f"!({LIVE})", 30)


def test_the_editor_rides_out_a_server_restart(browser, own_server, keyframe, users):
    server = own_server()
    page = log_in(browser, server.url, "annotator", "pw-annotator")
    try:
        editing_then_offline(page, server, keyframe)
        click_at(page, 52, 24)  # made while the server is down: kept in the outbox
        wait_until(page, f"{UNSENT} === 1 && document.getElementById('revision').textContent.includes('unsent')")

        own_server(port=server.port)
        wait_settled(page, 3)  # reconnected by itself, resynced, the outbox sent
        assert page.evaluate(f"() => {LIVE}")
        assert edits_landed(keyframe) == {"revisions": [1, 2, 3], "points": 2, "distinct points": 2,
                                          "audited edits": 2}
        assert not page.errors
    finally:
        page.context.close()


def test_unsent_edits_survive_a_closed_tab(browser, own_server, keyframe, users):
    server = own_server()
    page = log_in(browser, server.url, "annotator", "pw-annotator")
    try:
        editing_then_offline(page, server, keyframe)
        click_at(page, 52, 24)
        click_at(page, 32, 8)
        wait_until(page, f"{UNSENT} === 2 && document.getElementById('revision').textContent.includes('2 unsent')")

        # Leaving asks first; the user leaves anyway (the tab is closed with the server still down).
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
        with page.expect_event("close"):
            page.close(run_before_unload=True)
        assert dialogs == ["beforeunload"]

        # Back later: the edits kept in the browser are sent with their ids, and land once.
        own_server(port=server.port)
        again = page.context.new_page()
        again.on("pageerror", lambda error: dialogs.append(str(error)))
        open_editor(again, keyframe)
        wait_settled(again, 4)
        assert edits_landed(keyframe) == {"revisions": [1, 2, 3, 4], "points": 3, "distinct points": 3,
                                          "audited edits": 3}
        again.reload()  # nothing is left to send twice
        open_editor(again, keyframe)
        again.wait_for_timeout(1000)
        assert edits_landed(keyframe)["revisions"] == [1, 2, 3, 4]
        assert dialogs == ["beforeunload"]
    finally:
        page.context.close()


@pytest.mark.distributed
def test_the_editor_rides_out_a_redis_restart_and_a_database_outage(browser, own_server, keyframe, users, tmp_path):
    redis = RedisServer(tmp_path).start()
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    worker = start_worker("preview", tmp_path / "worker.log", broker=redis.url)
    server = own_server({"REDIS_URL": redis.url, **database_env(proxy.port)})
    page = log_in(browser, server.url, "annotator", "pw-annotator")
    try:
        open_editor(page, keyframe)
        click_at(page, 12, 24)
        wait_settled(page, 2)

        # Redis restarts: the channel layer and the broker go away, so every socket drops.
        redis.stop()
        wait_until(page, f"!({LIVE})", 30)
        click_at(page, 52, 24)
        redis.start()
        wait_settled(page, 3)

        # The database is out of reach for a few seconds: the edit is answered "unavailable",
        # kept, and sent again until it is stored.
        proxy.cut()
        click_at(page, 32, 8)
        page.wait_for_timeout(3000)
        assert page.evaluate(f"() => {UNSENT}") == 1
        proxy.restore()
        wait_settled(page, 4)

        assert page.evaluate(f"() => {LIVE}")
        assert edits_landed(keyframe) == {"revisions": [1, 2, 3, 4], "points": 3, "distinct points": 3,
                                          "audited edits": 3}
    finally:
        page.context.close()
        stop(worker)
        proxy.close()
        redis.stop()
