"""Streamed, resumable downloads of large stored files.

Django's FileResponse streams but ignores Range; players and download managers resume with
`Range: bytes=start-end` (RFC 9110), so single ranges are answered here with 206 Partial
Content. `If-Range` with a stale ETag, or several ranges, get the whole file (200), which
the RFC allows; an unsatisfiable range gets 416.
"""
from __future__ import annotations

import re

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _chunks(handle, start: int, length: int):
    try:
        handle.seek(start)
        while length > 0:
            block = handle.read(min(CHUNK, length))
            if not block:
                break
            length -= len(block)
            yield block
    finally:
        handle.close()


def _requested_range(header: str | None, size: int):
    """(start, end) inclusive, None for the whole file, or "unsatisfiable"."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or (not match.group(1) and not match.group(2)):
        return None  # several ranges or a syntax we do not serve: the whole file
    first, last = match.groups()
    if not first:  # suffix: the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length > 0 and size > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


def file_download(request, name: str, *, filename: str, content_type: str, etag: str):
    """Stream the stored file `name` as an attachment, honouring Range and If-Range."""
    size = default_storage.size(name)
    quoted = f'"{etag}"'
    wanted = _requested_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if wanted is not None and if_range and if_range.strip() != quoted:
        wanted = None  # the client's partial copy is of another version
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(default_storage.open(name, "rb"), as_attachment=True, filename=filename,
                                content_type=content_type)
    else:
        start, end = wanted
        response = StreamingHttpResponse(_chunks(default_storage.open(name, "rb"), start, end - start + 1),
                                         status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
        response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = quoted
    response["Cache-Control"] = "private, no-transform"
    return response
