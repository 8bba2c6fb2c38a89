"""Uploads stream to a temporary file; past COLORPROJ_MAX_UPLOAD_BYTES the file is dropped.

The view then answers 413 with a clear message (see `upload_too_large`), instead of
Django's generic failure, and nothing over the limit is ever kept.
"""
from django.conf import settings
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.COLORPROJ_MAX_REQUEST_BYTES:
            self.request.upload_too_large = True
            return QueryDict(encoding=encoding), MultiValueDict()  # do not even parse the body

    def new_file(self, *args, **kwargs):
        self.received = 0
        if getattr(self.request, "upload_too_large", False):
            raise SkipFile()
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.COLORPROJ_MAX_UPLOAD_BYTES:
            self.request.upload_too_large = True
            self.file.close()  # removes the temporary file
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)


def upload_too_large(request) -> bool:
    return getattr(request, "upload_too_large", False) or getattr(getattr(request, "_request", None), "upload_too_large", False)
