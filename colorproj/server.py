"""The studio's web server: daphne, with limits that hold before a request body is read.

Daphne (Twisted) receives a whole request body, spooled to a temporary file, before it calls the
ASGI application, so Django's upload limit comes after the bytes were taken. Here a request whose
Content-Length is over `COLORPROJ_MAX_REQUEST_BYTES` is answered 413 as soon as its headers are
in, and the connection closed without reading the body (Twisted's `Request.gotLength` hook); a
body without Content-Length (chunked) is counted as it arrives (`Request.handleContentChunk`) and
answered the same way the moment it passes the limit, so no more than the limit is ever spooled.

Websocket messages are let through up to WEBSOCKET_MAX_MESSAGE_BYTES (daphne's default of 1 MiB
would drop a larger one without a close frame), so that the application answers `error` to
anything over `annotations.sockets.MAX_MESSAGE_BYTES` (512 KiB); above 4 MiB the server closes
the socket with 1009 (message too big).

In the embedded mode the background jobs run in this server's threads, so renders that a stopped
server left running are queued again when it starts (`render.actions.resume_interrupted`).

    python -m colorproj.server -b 0.0.0.0 -p 8000 colorproj.asgi:application   (daphne's options)
"""
from __future__ import annotations

import json
import logging
import os
import sys

import daphne.server
import django
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketFactory
from django.conf import settings

WEBSOCKET_MAX_MESSAGE_BYTES = 4 * 2**20
log = logging.getLogger("colorproj.server")


class _Discard:
    """A request body nobody will read (the request was refused by its declared length)."""

    def write(self, data: bytes) -> None:
        pass

    def seek(self, *args) -> None:
        pass

    def close(self) -> None:
        pass


class LimitedRequest(WebRequest):
    """daphne's request, refusing a body over the limit: a declared one before any of it is read,
    one without a declared length (chunked) as soon as the bytes received pass the limit."""

    refused = False
    received = 0

    def gotLength(self, length):
        limit = settings.COLORPROJ_MAX_REQUEST_BYTES
        if length is None or length <= limit:
            super().gotLength(length)
            return
        self._refuse(f"the request body of {length} bytes is over the limit of {limit} bytes")

    def handleContentChunk(self, data):
        if self.refused:  # what was already in the read buffer when the connection was closed
            return
        self.received += len(data)
        limit = settings.COLORPROJ_MAX_REQUEST_BYTES
        if self.received > limit:
            self._refuse(f"the request body is over the limit of {limit} bytes")
            return
        super().handleContentChunk(data)

    def _refuse(self, detail: str) -> None:
        """Answer 413 and close the connection; the spooled body (if any) is dropped."""
        spooled, self.refused, self.content = getattr(self, "content", None), True, _Discard()
        if spooled is not None:
            spooled.close()  # an unnamed temporary file: closing it frees the disk
        body = json.dumps({"detail": detail}).encode()
        self.channel.transport.write(
            b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        self.channel.transport.loseConnection()  # stops reading: no more of the body is received

    def process(self):
        if not self.refused:
            super().process()


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol


class ClosingWebSocketFactory(WebSocketFactory):
    """daphne's websocket factory, failing a socket with a close frame (1009 for a message too big)
    instead of dropping the connection."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setProtocolOptions(failByDrop=False)


class StudioServerCommand(CommandLineInterface):
    def __init__(self):
        super().__init__()
        self.parser.set_defaults(websocket_max_message_size=WEBSOCKET_MAX_MESSAGE_BYTES,
                                 websocket_max_frame_size=WEBSOCKET_MAX_MESSAGE_BYTES)


def resume_interrupted_work() -> None:
    """Embedded mode: the renders the last server was running when it stopped, queued again."""
    from annotations.render import actions as render_actions  # needs Django set up (main() does)

    if settings.JOBS_MODE != "embedded":
        return
    try:
        render_actions.resume_interrupted()
    except Exception:  # e.g. a database not migrated yet: serving comes first
        log.exception("could not resume interrupted renders")


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorproj.settings")
    django.setup()
    resume_interrupted_work()
    # daphne's Server.run() builds its factories by these names
    daphne.server.HTTPFactory, daphne.server.WebSocketFactory = LimitedHTTPFactory, ClosingWebSocketFactory
    StudioServerCommand().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
