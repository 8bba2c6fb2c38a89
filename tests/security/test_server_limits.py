"""Limits that only the real server (colorproj.server, daphne) can hold: a declared request body
over the limit refused before it is sent, a chunked one refused once the bytes received pass the
limit, and websocket messages over 512 KiB answered `error`."""
from __future__ import annotations

import json
import select
import socket

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.processes import start_server, stop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path, media_root):
    process = start_server(None, tmp_path / "server.log")
    yield process
    stop(process)


def test_over_limit_content_length_is_refused_before_the_body(server, project):
    """30 GiB declared, only the headers sent: the answer is 413 at once (it was: the server spooled
    the body to disk until the client gave up)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"POST /api/projects/{project.pk}/footage/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: multipart/form-data; boundary=x\r\n"
                           f"Content-Length: {30 * 2**30}\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):  # the server closes the connection after answering
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert "over the limit" in json.loads(body)["detail"]


SMALL_UPLOAD = 2**20  # the limited server's COLORPROJ_MAX_UPLOAD_BYTES


@pytest.fixture
def small_limit_server(tmp_path, media_root):
    process = start_server({"COLORPROJ_MAX_UPLOAD_BYTES": str(SMALL_UPLOAD)}, tmp_path / "server.log")
    yield process
    stop(process)


def _answer(connection: socket.socket) -> bytes:
    """What the server sent until it closed the connection (a reset after the answer ends it too)."""
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def test_chunked_body_over_the_limit_is_cut_off_as_it_arrives(small_limit_server, project):
    """No Content-Length: the server counts the body as it comes and answers 413 once it passes
    the limit (1 MiB + 64 KiB here), closing the connection. It was: the whole body (64 MiB here)
    was received and spooled to disk before the application was called."""
    total, piece = 64 * 2**20, 64 * 1024
    chunk = b"%x\r\n%s\r\n" % (piece, b"x" * piece)
    sent = 0
    with socket.create_connection(("127.0.0.1", small_limit_server.port), timeout=10) as connection:
        connection.sendall(f"POST /api/projects/{project.pk}/footage/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: multipart/form-data; boundary=x\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n".encode())
        try:
            while sent < total and not select.select([connection], [], [], 0)[0]:  # until the server answers
                connection.sendall(chunk)
                sent += piece
        except (BrokenPipeError, ConnectionResetError):  # the server closed the connection
            pass
            pass
        # The server stopped taking the body at the limit: what the client got out is the limit
        # and the sockets' buffers on the way, far from the whole body.
        assert sent < total / 2, f"the server took {sent} bytes of a body over the limit of {SMALL_UPLOAD}"
        answer = _answer(connection)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert "over the limit" in json.loads(body)["detail"]
    # It goes on serving; a chunked body under the limit is taken.
    with socket.create_connection(("127.0.0.1", small_limit_server.port), timeout=10) as connection:
        connection.sendall(b"POST /api/projects/%d/footage/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                           b"Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"%s0\r\n\r\n" % (project.pk, chunk))
        answer = _answer(connection)
    assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 413"), answer[:300]


def test_large_socket_messages_are_answered_not_dropped(server, project, users, client):
    client.force_login(users["reviewer"])
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    url = f"ws://127.0.0.1:{server.port}/ws/projects/{project.pk}/"
    with ws_connect(url, additional_headers={"Cookie": cookie, "Origin": server.url}, max_size=None,
                    open_timeout=10) as websocket:
        for size in (600 * 1024, 1100 * 1024):  # over 512 KiB; over daphne's default of 1 MiB
            websocket.send(json.dumps({"type": "ping", "pad": "x" * size}))
            answer = json.loads(websocket.recv(timeout=10))
            assert answer["type"] == "error" and "larger than" in answer["message"]
        websocket.send(json.dumps({"type": "ping"}))
        assert json.loads(websocket.recv(timeout=10)) == {"type": "pong"}
        # Past what the server takes at all (4 MiB), it closes the socket with 1009, message too big.
        # It may close while the client is still sending: the reset can then overtake the close frame.
        with pytest.raises(ConnectionClosed) as closed:
            websocket.send(json.dumps({"type": "ping", "pad": "x" * 5 * 2**20}))
            websocket.recv(timeout=10)
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009, closed.value
    # Only that socket: the server answers the next one.
    with ws_connect(url, additional_headers={"Cookie": cookie, "Origin": server.url}, open_timeout=10) as websocket:
        websocket.send(json.dumps({"type": "ping"}))
        assert json.loads(websocket.recv(timeout=10)) == {"type": "pong"}
