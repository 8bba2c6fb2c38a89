from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.errors import ActionError


def exception_handler(exc, context):
    """Action errors become {"detail": message} with their status (400, 403, 409, 413)."""
    if isinstance(exc, ActionError):
        return Response({"detail": exc.message}, status=exc.status)
    return drf_exception_handler(exc, context)
