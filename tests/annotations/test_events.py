"""Live events: actions broadcast after commit; the project socket checks membership."""
import pytest
from channels.testing import WebsocketCommunicator

from annotations.keyframes.actions import apply_hint_ops
from colorproj.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(project, user):
    communicator = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/",
                                         headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
    communicator.scope["user"] = user
    return communicator


@pytest.mark.asyncio
async def test_project_socket_streams_hint_edits(project, keyframe, users):
    from channels.db import database_sync_to_async

    socket = _communicator(project, users["reviewer"])
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    await socket.send_to(text_data="{not json")
    assert (await socket.receive_json_from())["type"] == "error"
    # An empty frame (once a 1011 close) and one over 512 KiB are answered like any other bad message.
    await socket.send_input({"type": "websocket.receive", "text": ""})
    assert "empty" in (await socket.receive_json_from())["message"]
    await socket.send_to(text_data='{"type": "ping", "pad": "' + "x" * 600_000 + '"}')
    assert "larger than" in (await socket.receive_json_from())["message"]
    await database_sync_to_async(apply_hint_ops)(
        keyframe, users["annotator"], [{"op": "add_point", "point": {"x": 3, "y": 4, "color": "#aa0000", "id": "p"}}])
    message = await socket.receive_json_from(timeout=5)
    assert message["event"] == "hints.edited"
    assert message["data"]["revision"] == 2 and message["data"]["hints"]["points"][0]["id"] == "p"
    assert message["data"]["actor"] == "annotator"
    await socket.disconnect()


@pytest.mark.asyncio
async def test_project_socket_refuses_non_members(project, outsider):
    socket = _communicator(project, outsider)
    connected, code = await socket.connect()
    assert not connected and code == 4403


@pytest.mark.asyncio
async def test_events_from_job_threads_reach_sockets_promptly(project, keyframe, users):
    """A worker thread (not the server loop) sends; the socket gets it without waiting on a timer."""
    import asyncio
    import threading
    import time

    socket = _communicator(project, users["manager"])
    assert (await socket.connect())[0]
    sent = {}

    def job():
        from django.db import connections

        try:
            apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": {
                "x": 1, "y": 1, "color": "#00aa00", "id": "t"}}])
            sent["at"] = time.monotonic()
        finally:
            connections.close_all()

    thread = threading.Thread(target=job)
    thread.start()
    message = await socket.receive_json_from(timeout=5)
    received = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, thread.join)
    assert message["event"] == "hints.edited"
    assert received - sent["at"] < 0.5
    await socket.disconnect()
