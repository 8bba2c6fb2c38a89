from django.db import DataError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.errors import ActionError


def exception_handler(exc, context):
    """Action errors become {"detail": message} with their status (400, 403, 409, 413).

    A number too large for the database (an id of 10**30 sent as JSON) is the client's error too:
    SQLite raises OverflowError, PostgreSQL DataError ("out of range"); both answer 400, not 500.
    """
    if isinstance(exc, ActionError):
        return Response({"detail": exc.message}, status=exc.status)
    if isinstance(exc, (OverflowError, DataError)):
        return Response({"detail": "a number in the request is out of range"}, status=400)
    return drf_exception_handler(exc, context)
