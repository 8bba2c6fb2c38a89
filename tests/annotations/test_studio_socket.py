"""The keyframe editor's websocket, driven with Channels' WebsocketCommunicator.

Runs in both modes: in the distributed one the channel layer is Redis and previews are
computed by the real Celery worker (the `background_jobs` fixture).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import threading

import cv2
import numpy as np
import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from annotations.models import HintRevision, Membership
from annotations.routing import websocket_urlpatterns
from annotations.keyframes import previews, tasks
from annotations.keyframes.state import preview_state
from tests.conftest import DISTRIBUTED

# Every test here may start preview jobs (a socket asks for one on connect): background_jobs waits
# for them to finish before the database is flushed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.usefixtures("background_jobs")]

TIMEOUT = 60  # the first preview loads the model


def app():
    return URLRouter(websocket_urlpatterns)


class Communicator(WebsocketCommunicator):
    """A client socket of a test, remembered so that `hang_up` ends it."""

    opened: list[WebsocketCommunicator] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Communicator.opened.append(self)


@pytest_asyncio.fixture(autouse=True)
async def hang_up():
    """Every socket a test opened is ended the way a browser's is (websocket.disconnect), those
    the server closed too: their consumers would otherwise still be waiting on the channel layer
    when the test's event loop closes, and cancelling all of them at once there (Redis receives
    mid-command) could hang the teardown for good (pytest-timeout: an error, not a failure)."""
    Communicator.opened = []
    yield
    for communicator in Communicator.opened:
        if not communicator.future.done():
            with contextlib.suppress(Exception):
                await communicator.disconnect(timeout=10)


async def connect(user, keyframe_id, expect_welcome=True):
    communicator = Communicator(app(), f"/ws/keyframes/{keyframe_id}/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect(timeout=10)
    if expect_welcome:
        assert connected, code
        welcome = await communicator.receive_json_from(timeout=10)
        assert welcome["type"] == "welcome"
        communicator.welcome = welcome
    return communicator, connected, code


async def receive_until(communicator, kind, timeout=TIMEOUT, where=lambda m: True):
    """Next message of type `kind` matching `where`; the ones skipped are returned too."""
    skipped = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            message = await communicator.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise AssertionError(f"no {kind!r} message in {timeout}s; got {[m['type'] for m in skipped]}") from None
        if message["type"] == kind and where(message):
            message["skipped"] = skipped
            return message
        skipped.append(message)


async def drain(communicator, seconds: float) -> list[dict]:
    """Every message that arrives within `seconds` (a receive timeout would end the consumer)."""
    messages = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if not await communicator.receive_nothing(timeout=0.05, interval=0.01):
            messages.append(await communicator.receive_json_from())
    return messages


async def take_lease(keyframe_id: int) -> str:
    """The keyframe's preview lease, once the job started by opening the editor gave it up."""
    for _ in range(600):
        token = await database_sync_to_async(preview_state().claim)(keyframe_id)
        if token:
            return token
        await asyncio.sleep(0.1)
    raise AssertionError("the preview lease was never released")


def point(x=10, y=12, color="#c03020", **extra):
    return {"op": "add_point", "point": {"x": x, "y": y, "color": color, "radius": 2, **extra}}


def decode(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/jpeg;base64,")
    image = cv2.imdecode(np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image[..., ::-1]


# --- Authentication and roles ---------------------------------------------------------------------

async def test_anonymous_and_outsiders_are_refused(keyframe, outsider):
    from channels.auth import AuthMiddlewareStack

    # Through the real session middleware, without a session: anonymous.
    communicator = Communicator(AuthMiddlewareStack(app()), f"/ws/keyframes/{keyframe.pk}/")
    connected, code = await communicator.connect(timeout=10)
    assert not connected and code == 4404
    _, connected, code = await connect(outsider, keyframe.pk, expect_welcome=False)
    assert not connected and code == 4404
    # A keyframe that does not exist looks the same as one you may not see.
    _, connected, code = await connect(outsider, 999999, expect_welcome=False)
    assert not connected and code == 4404


async def test_session_cookie_authenticates(client, keyframe, users):
    """The browser's path: Django's session cookie through the ASGI application."""
    from colorproj.asgi import application

    await database_sync_to_async(client.force_login)(users["reviewer"])
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    communicator = Communicator(application, f"/ws/keyframes/{keyframe.pk}/",
                                         headers=[(b"cookie", cookie.encode()), (b"origin", b"http://testserver")])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    welcome = await communicator.receive_json_from(timeout=10)
    assert welcome["you"]["user"] == "reviewer" and welcome["you"]["can_edit"] is False
    await communicator.disconnect()


async def test_viewers_watch_but_cannot_edit(keyframe, users):
    reviewer, _, _ = await connect(users["reviewer"], keyframe.pk)
    assert reviewer.welcome["you"]["can_edit"] is False
    await reviewer.send_json_to({"type": "edit", "ops": [point()], "request": "r1"})
    answer = await receive_until(reviewer, "error")
    assert answer["request"] == "r1" and "not edit" in answer["message"]
    assert await database_sync_to_async(HintRevision.objects.filter(keyframe=keyframe).count)() == 1
    # Watching is allowed: history and pings work.
    await reviewer.send_json_to({"type": "history"})
    history = await receive_until(reviewer, "history")
    assert [r["revision"] for r in history["revisions"]] == [1]
    await reviewer.disconnect()


async def test_role_is_checked_on_every_edit(keyframe, users, background_jobs):
    annotator, _, _ = await connect(users["annotator"], keyframe.pk)
    await annotator.send_json_to({"type": "edit", "ops": [point()], "request": "a"})
    assert (await receive_until(annotator, "ack"))["revision"] == 2
    # Demoted while the socket is open: the next edit is refused.
    await database_sync_to_async(
        Membership.objects.filter(user=users["annotator"], project=keyframe.shot.project).update)(role="reviewer")
    await annotator.send_json_to({"type": "edit", "ops": [point(x=20)], "request": "b"})
    refused = await receive_until(annotator, "error", where=lambda m: m["request"] == "b")
    assert "not edit" in refused["message"]
    await annotator.disconnect()


# --- Revoked access ------------------------------------------------------------------------------------

async def open_sockets(user, keyframe):
    """The user's keyframe editor and project sockets, after the editor's opening messages."""
    editor, _, _ = await connect(user, keyframe.pk)
    project = Communicator(app(), f"/ws/projects/{keyframe.shot.project_id}/")
    project.scope["user"] = user
    assert (await project.connect(timeout=10))[0]
    await drain(editor, 0.5)
    return editor, project


async def close_code(communicator, timeout=10) -> int:
    """The code of the close the server sends next (messages sent before it are skipped)."""
    while True:
        output = await communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


async def revision_count(keyframe) -> int:
    return await database_sync_to_async(HintRevision.objects.filter(keyframe=keyframe).count)()


async def assert_cut_off(keyframe, users, sockets):
    """Nothing more reaches the sockets, and what they send is not acted on."""
    from annotations.keyframes.actions import apply_hint_ops

    editor = sockets[0]
    await database_sync_to_async(apply_hint_ops)(keyframe, users["manager"], [point(id="after")])
    await editor.send_json_to({"type": "edit", "ops": [point(x=30, id="mine")], "request": "late"})
    await editor.send_json_to({"type": "history"})
    for socket in sockets:
        assert await socket.receive_nothing(timeout=1.5), await socket.receive_output()
    assert await revision_count(keyframe) == 2  # the manager's edit only


async def test_removed_member_loses_open_sockets_at_once(keyframe, users):
    from annotations.projects.actions import remove_member

    sockets = await open_sockets(users["annotator"], keyframe)
    membership = await database_sync_to_async(Membership.objects.get)(
        project_id=keyframe.shot.project_id, user=users["annotator"])
    await database_sync_to_async(remove_member)(membership, users["manager"])
    assert [await close_code(socket) for socket in sockets] == [4403, 4403]
    await assert_cut_off(keyframe, users, sockets)


async def test_deactivated_user_loses_open_sockets_at_once(keyframe, users):
    sockets = await open_sockets(users["annotator"], keyframe)
    annotator = await database_sync_to_async(type(users["annotator"]).objects.get)(pk=users["annotator"].pk)
    annotator.is_active = False
    await database_sync_to_async(annotator.save)()
    assert [await close_code(socket) for socket in sockets] == [4403, 4403]
    await assert_cut_off(keyframe, users, sockets)


async def test_every_message_rechecks_the_account(keyframe, users):
    """Even without the close message (an update that sends no signal), the next message is refused."""
    editor, project = await open_sockets(users["annotator"], keyframe)
    await database_sync_to_async(type(users["annotator"]).objects.filter(pk=users["annotator"].pk).update)(
        is_active=False)
    await editor.send_json_to({"type": "edit", "ops": [point(id="ghost")], "request": "e1"})
    await project.send_json_to({"type": "ping"})
    assert [await close_code(editor), await close_code(project)] == [4403, 4403]
    assert await revision_count(keyframe) == 1


async def test_a_message_costs_one_query_the_access_check(keyframe, users, monkeypatch):
    """Each message re-reads the sender's access (one query) and nothing else for pings and
    cursors. The check is not cached per socket: an account changed by an update that sends no
    signal (above) would keep its access until the socket closed."""
    from django.db.backends import utils

    editor, _, _ = await connect(users["annotator"], keyframe.pk)
    await drain(editor, 0.5)
    sync_thread = await database_sync_to_async(threading.get_ident)()  # where consumers run their queries
    queries = []
    execute = utils.CursorWrapper._execute

    def counting(self, sql, *args, **kwargs):
        if threading.get_ident() == sync_thread:
            queries.append(sql)
        return execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(utils.CursorWrapper, "_execute", counting)
    for number in range(3):
        await editor.send_json_to({"type": "ping", "request": number})
        assert (await receive_until(editor, "pong"))["request"] == number
        await editor.send_json_to({"type": "cursor", "x": number, "y": 1, "tool": "point"})
    await editor.send_json_to({"type": "ping", "request": "last"})  # the cursors were handled before it
    await receive_until(editor, "pong", where=lambda m: m["request"] == "last")
    monkeypatch.undo()
    assert len(queries) == 7 and all("annotations_membership" in sql for sql in queries), queries
    await editor.disconnect()


async def test_role_change_closes_sockets_for_a_reconnect(keyframe, users):
    from annotations.models import Role
    from annotations.projects.actions import change_role

    editor, project = await open_sockets(users["annotator"], keyframe)
    membership = await database_sync_to_async(Membership.objects.get)(
        project_id=keyframe.shot.project_id, user=users["annotator"])
    await database_sync_to_async(change_role)(membership, users["manager"], Role.REVIEWER)
    assert [await close_code(editor), await close_code(project)] == [4409, 4409]
    again, _, _ = await connect(users["annotator"], keyframe.pk)
    assert again.welcome["you"]["can_edit"] is False
    await again.disconnect()


# --- Malformed messages -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("not json", "JSON objects"),
    ("", "empty message"),  # was a 1011 close (Channels raises on an empty text frame)
    ("[" * 100_000, "not valid JSON"),  # nesting deeper than the parser's recursion limit
    ("[1, 2]", "JSON objects"),
    ('{"no": "type"}', "unknown message type"),
    ('{"type": "launch"}', "unknown message type"),
    ('{"type": "edit", "ops": "add a point"}', "non-empty list"),
    ('{"type": "edit", "ops": [{"op": "explode"}]}', "unknown op"),
    ('{"type": "edit", "ops": [{"op": "add_point", "point": {"x": 1e9, "y": 1, "color": "#ffffff"}}]}', "outside"),
    ('{"type": "edit", "ops": [{"op": "add_point", "point": {"x": 1, "y": 1, "color": "red"}}]}', "bad color"),
    ('{"type": "suggest", "x": "left", "y": 3}', "inside the frame"),
    ('{"type": "cursor", "x": "a", "y": 1}', "numbers"),
    ('{"type": "cursor", "x": 1%s, "y": 1}' % ("0" * 300), "numbers"),  # 10**300: valid JSON, no cursor
    ('{"type": "cursor", "x": null, "y": {"pad": "%s"}}' % ("x" * 100_000), "numbers"),  # was relayed as sent
    ('{"type": "cursor", "x": 5, "y": -3}', "inside"),
    ('{"type": "cursor", "x": 5, "y": 3, "tool": "%s"}' % ("t" * 1000), "tool"),
    ('{"type": "region_preview", "x": 0, "y": 0, "width": 8.5, "height": 8}', "integers"),
    ('{"type": "region_preview", "x": 60, "y": 0, "width": 8, "height": 8}', "inside the 64x48 frame"),
    ('{"type": "region_preview", "x": 0, "y": 0, "width": 0, "height": 8}', "inside"),
    ('{"type": "revert", "revision": "first"}', "revision number"),
    ('{"type": "revert", "revision": 99}', "does not exist"),
])
async def test_malformed_messages_get_an_error_and_the_socket_lives(keyframe, users, raw, expected):
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    await communicator.send_input({"type": "websocket.receive", "text": raw})  # send_to refuses ""
    answer = await receive_until(communicator, "error", timeout=10)
    assert expected in answer["message"]
    await communicator.send_json_to({"type": "ping", "request": 7})
    assert (await receive_until(communicator, "pong", timeout=10))["request"] == 7
    assert await database_sync_to_async(HintRevision.objects.filter(keyframe=keyframe).count)() == 1
    await communicator.disconnect()


async def test_binary_and_oversized_messages(keyframe, users):
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert "binary" in (await receive_until(communicator, "error", timeout=10))["message"]
    await communicator.send_to(text_data='{"type": "ping", "pad": "' + "x" * 600_000 + '"}')
    assert "larger than" in (await receive_until(communicator, "error", timeout=10))["message"]
    await communicator.disconnect()


# --- Edits, revisions, previews ----------------------------------------------------------------------

async def test_edit_is_stored_as_a_revision_and_previewed_for_everyone(keyframe, users, background_jobs):
    annotator, _, _ = await connect(users["annotator"], keyframe.pk)
    watcher, _, _ = await connect(users["reviewer"], keyframe.pk)
    await receive_until(annotator, "presence", timeout=10)

    await annotator.send_json_to({"type": "edit", "ops": [point(color="#2040c0", id="sky")], "request": "e1"})
    ack = await receive_until(annotator, "ack")
    assert ack == {"type": "ack", "request": "e1", "revision": 2, "skipped": ack["skipped"]}
    revision = await database_sync_to_async(HintRevision.objects.get)(keyframe=keyframe, number=2)
    assert revision.author_id == users["annotator"].pk
    assert revision.content["points"][0]["id"] == "sky" and revision.content["points"][0]["color"] == "#2040c0"

    for communicator in (annotator, watcher):
        hints = await receive_until(communicator, "hints")
        assert hints["revision"] == 2 and hints["actor"] == "annotator"
        assert hints["hints"]["points"][0]["id"] == "sky"
        preview = await receive_until(communicator, "preview", where=lambda m: m["revision"] == 2)
        image = decode(preview["image"])
        assert image.shape[:2] == (preview["height"], preview["width"]) == (keyframe.shot.height, keyframe.shot.width)
    # The hinted patch carries the hint's color (blue dominates red there).
    r, g, b = image[12, 10].astype(int)
    assert b > r, image[12, 10]

    # A late joiner gets the finished preview at once.
    late, _, _ = await connect(users["producer"], keyframe.pk)
    preview = await receive_until(late, "preview", timeout=10)
    assert preview["revision"] == 2
    for communicator in (annotator, watcher, late):
        await communicator.disconnect()


async def test_a_region_preview_is_the_full_resolution_colorization_cropped(keyframe, users, background_jobs):
    """Zoomed in, the editor asks for what it shows at full resolution: the answer goes to the asker
    only and is the render's colorization of that rectangle, for the head revision."""
    from annotations import engines

    annotator, _, _ = await connect(users["annotator"], keyframe.pk)
    watcher, _, _ = await connect(users["reviewer"], keyframe.pk)
    await annotator.send_json_to({"type": "edit", "ops": [point(x=10, y=12, color="#2040c0")], "request": "e1"})
    await receive_until(annotator, "ack")
    await watcher.send_json_to({"type": "region_preview", "x": 4, "y": 6, "width": 24, "height": 16, "request": "z1"})
    region = await receive_until(watcher, "region_preview")
    assert (region["request"], region["revision"], region["x"], region["y"], region["width"], region["height"]) == \
        ("z1", 2, 4, 6, 24, 16)
    image = decode(region["image"]).astype(int)
    assert image.shape[:2] == (16, 24)
    content = (await database_sync_to_async(HintRevision.objects.get)(keyframe=keyframe, number=2)).content
    full = await database_sync_to_async(engines.colorize_keyframe)(keyframe.shot, keyframe.frame, content,
                                                                   previews.preview_method())
    assert np.abs(image - full[6:22, 4:28].astype(int)).mean() < 4  # the same picture, but for the JPEG
    r, g, b = image[12 - 6, 10 - 4]
    assert b > r, (r, g, b)  # the hint's blue, at the hint
    others = [m["type"] for m in await drain(annotator, 0.5)]
    assert "region_preview" not in others
    for communicator in (annotator, watcher):
        await communicator.disconnect()


async def test_an_edit_sent_again_after_a_reconnect_lands_once(keyframe, users, background_jobs):
    first, _, _ = await connect(users["annotator"], keyframe.pk)
    edit = {"type": "edit", "ops": [point(id="roof")], "request": "tab1-e1", "edit_id": "tab1-e1"}
    await first.send_json_to(edit)
    assert (await receive_until(first, "ack"))["revision"] == 2
    await first.disconnect()  # as if the answer had been lost with the connection

    second, _, _ = await connect(users["annotator"], keyframe.pk)
    assert second.welcome["revision"] == 2
    await second.send_json_to(edit)
    assert (await receive_until(second, "ack"))["revision"] == 2
    await second.send_json_to({**edit, "edit_id": "bad id!"})
    assert "edit_id" in (await receive_until(second, "error"))["message"]
    count = await database_sync_to_async(HintRevision.objects.filter(keyframe=keyframe).count)()
    assert count == 2
    await second.disconnect()


async def test_concurrent_edits_on_different_hints_both_land(keyframe, users, background_jobs):
    first, _, _ = await connect(users["annotator"], keyframe.pk)
    second, _, _ = await connect(users["manager"], keyframe.pk)
    await first.send_json_to({"type": "edit", "ops": [point(id="a"), point(x=30, id="b")]})
    await receive_until(first, "ack")
    # Both move a different point at the same time; both edits survive.
    await asyncio.gather(
        first.send_json_to({"type": "edit", "ops": [{"op": "update_point", "id": "a", "changes": {"x": 5}}]}),
        second.send_json_to({"type": "edit", "ops": [{"op": "update_point", "id": "b", "changes": {"color": "#00ff00"}}]}),
    )
    await receive_until(first, "ack")
    await receive_until(second, "ack")
    head = await database_sync_to_async(lambda: keyframe.__class__.objects.get(pk=keyframe.pk).head.content)()
    by_id = {p["id"]: p for p in head["points"]}
    assert by_id["a"]["x"] == 5 and by_id["b"]["color"] == "#00ff00"
    # Editing a point someone else deleted is a conflict, reported on the socket.
    await second.send_json_to({"type": "edit", "ops": [{"op": "delete_point", "id": "a"}]})
    await receive_until(second, "ack")
    await first.send_json_to({"type": "edit", "ops": [{"op": "update_point", "id": "a", "changes": {"x": 7}}],
                              "request": "late"})
    conflict = await receive_until(first, "conflict")
    assert conflict["request"] == "late" and "no longer exists" in conflict["message"]
    await first.disconnect()
    await second.disconnect()


async def test_revert_makes_a_new_revision(keyframe, users, background_jobs):
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    await communicator.send_json_to({"type": "edit", "ops": [point(id="p")]})
    await receive_until(communicator, "ack")
    await communicator.send_json_to({"type": "revert", "revision": 1, "request": "undo-all"})
    ack = await receive_until(communicator, "ack")
    assert ack["revision"] == 3
    hints = await receive_until(communicator, "hints", where=lambda m: m["revision"] == 3)
    assert hints["hints"] == {"points": [], "strokes": []}
    await communicator.disconnect()


# --- Presence and cursors -----------------------------------------------------------------------------

async def test_presence_and_cursors(keyframe, users):
    first, _, _ = await connect(users["annotator"], keyframe.pk)
    second, _, _ = await connect(users["manager"], keyframe.pk)
    joined = await receive_until(first, "presence")
    assert joined["action"] == "join" and joined["peer"]["user"] == "manager"
    here = await receive_until(second, "presence")
    assert here["action"] == "here" and here["peer"]["user"] == "annotator"
    await second.send_json_to({"type": "cursor", "x": 12.5, "y": 3, "tool": "point"})
    cursor = await receive_until(first, "cursor")
    assert (cursor["x"], cursor["y"], cursor["peer"], cursor["tool"]) == (12.5, 3, joined["peer"]["id"], "point")
    await second.send_json_to({"type": "cursor", "x": None, "y": None, "tool": "point", "extra": "x" * 1000})
    cursor = await receive_until(first, "cursor")
    assert set(cursor) == {"type", "peer", "x", "y", "tool", "skipped"} and cursor["tool"] is None
    # A read-only member's cursor goes nowhere.
    watcher, _, _ = await connect(users["reviewer"], keyframe.pk)
    await watcher.send_json_to({"type": "cursor", "x": 1, "y": 1, "request": "c"})
    assert "not edit" in (await receive_until(watcher, "error"))["message"]
    assert not [m for m in await drain(first, 1) if m["type"] == "cursor"]
    await watcher.disconnect()
    await second.disconnect()
    left = await receive_until(first, "presence", where=lambda m: m["action"] == "leave" and m["peer"]["user"] == "manager")
    assert left["peer"]["user"] == "manager"
    await first.disconnect()


# --- Coalescing ----------------------------------------------------------------------------------------

async def test_edits_during_a_preview_coalesce_to_the_newest(keyframe, users, background_jobs):
    """While a preview job owns the keyframe, edits only raise the wanted revision; the job then
    renders the newest one, never the ones in between."""
    state = preview_state()
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    token = await take_lease(keyframe.pk)  # as if a job were computing
    for index in range(4):
        await communicator.send_json_to({"type": "edit", "ops": [point(x=5 + index, id=f"p{index}")]})
        await receive_until(communicator, "ack")
    assert state.wanted(keyframe.pk) == 5
    assert [m for m in await drain(communicator, 1.0) if m["type"] == "preview"] == []
    # The computing job comes back around: it renders revision 5 only.
    await database_sync_to_async(tasks.render_preview)(keyframe.pk, token)
    preview = await receive_until(communicator, "preview")
    assert preview["revision"] == 5
    previews_seen = [m for m in preview["skipped"] if m["type"] == "preview"]
    assert previews_seen == []
    assert state.done(keyframe.pk) == 5
    # The claim is free again: the next edit schedules a job of its own.
    token = await database_sync_to_async(state.claim)(keyframe.pk)
    assert token
    await database_sync_to_async(state.release)(keyframe.pk, token)
    await communicator.disconnect()


async def test_a_job_without_the_lease_does_nothing(keyframe, users, background_jobs):
    """A redelivered or duplicate preview job must not render beside the job that owns the keyframe."""
    state = preview_state()
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    await receive_until(communicator, "preview", where=lambda m: m["revision"] == 1)
    owner = await take_lease(keyframe.pk)
    await communicator.send_json_to({"type": "edit", "ops": [point(id="x")]})
    await receive_until(communicator, "ack")
    await database_sync_to_async(tasks.render_preview)(keyframe.pk, "a-stale-token")
    assert [m for m in await drain(communicator, 1.0) if m["type"] == "preview"] == []
    assert state.done(keyframe.pk) == 1
    await database_sync_to_async(tasks.render_preview)(keyframe.pk, owner)
    assert (await receive_until(communicator, "preview"))["revision"] == 2
    await communicator.disconnect()


@pytest.mark.skipif(DISTRIBUTED, reason="gates the engine inside this process (embedded mode)")
async def test_slow_preview_builds_no_backlog(keyframe, users, background_jobs, monkeypatch):
    rendered, gate = [], threading.Event()
    real_render = previews.render

    def slow_render(kf, content, method=None):
        rendered.append(len(content["points"]))
        gate.wait(30)
        return real_render(kf, content, method)

    monkeypatch.setattr(previews, "render", slow_render)
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    while not rendered:  # opening the editor starts a preview of revision 1 (no hints)
        await asyncio.sleep(0.02)
    for index in range(6):
        await communicator.send_json_to({"type": "edit", "ops": [point(x=5 + index, id=f"p{index}")]})
        await receive_until(communicator, "ack")
    gate.set()
    preview = await receive_until(communicator, "preview", where=lambda m: m["revision"] == 7)
    # Six edits arrived while revision 1 was computing: only the newest (6 points) was rendered after it.
    assert rendered == [0, 6], rendered
    assert [m["revision"] for m in preview["skipped"] if m["type"] == "preview"] == [1]
    await communicator.disconnect()


# --- Carried points ------------------------------------------------------------------------------------

async def test_carry_proposes_the_nearest_keyframes_points_followed_to_this_frame(project, users, upload, tmp_path):
    from annotations.keyframes.actions import add_keyframe, save_hints
    from tests.annotations.review_helpers import annotate, panning_shot

    shot = await database_sync_to_async(panning_shot)(project, users["producer"], upload, tmp_path)
    points = {"points": [{"x": 40, "y": 30, "color": "#b04030", "radius": 2},
                         {"x": 110, "y": 80, "color": "#3070c0", "radius": 2}], "strokes": []}
    await database_sync_to_async(annotate)(shot, users["annotator"], 9, points)
    await database_sync_to_async(annotate)(shot, users["annotator"], 6, points)
    keyframe = await database_sync_to_async(add_keyframe)(shot, users["annotator"], 2)
    communicator, _, _ = await connect(users["annotator"], keyframe.pk)
    await communicator.send_json_to({"type": "carry", "request": "c1"})
    carried = await receive_until(communicator, "carried", timeout=60)
    assert carried["request"] == "c1" and carried["from_frame"] == 6  # the nearest keyframe with points
    assert carried["dropped"] == 0 and len(carried["points"]) == 2, carried
    for point, origin in zip(carried["points"], points["points"]):
        assert point["color"] == origin["color"] and point["confidence"] >= 0.5
        # The picture moves 2 px right and 1 px down a frame: four frames earlier, 8 px left and 4 px up.
        assert abs(point["x"] - (origin["x"] - 8)) < 1 and abs(point["y"] - (origin["y"] - 4)) < 1, point
    # Nothing is stored until the annotator accepts: still the one empty revision.
    assert await database_sync_to_async(HintRevision.objects.filter(keyframe=keyframe).count)() == 1
    # One accepted: asked again (the keyframe reopened), only the other is proposed.
    accepted = {k: v for k, v in carried["points"][0].items() if k != "confidence"}
    await database_sync_to_async(save_hints)(keyframe, users["annotator"], {"points": [accepted], "strokes": []})
    await communicator.send_json_to({"type": "carry", "request": "c3"})
    again = await receive_until(communicator, "carried", timeout=60)
    assert again["present"] == 1 and again["dropped"] == 0, again
    assert [p["color"] for p in again["points"]] == [points["points"][1]["color"]]
    await communicator.disconnect()

    reviewer, _, _ = await connect(users["reviewer"], keyframe.pk)  # proposals are for those who edit
    await reviewer.send_json_to({"type": "carry", "request": "c2"})
    answer = await receive_until(reviewer, "error", timeout=10)
    assert answer["request"] == "c2" and "not edit" in answer["message"]
    await reviewer.disconnect()
