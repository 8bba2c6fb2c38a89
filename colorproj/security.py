"""Web security pieces the settings plug in: the content security policy, the login lockout answer,
the throttled token endpoint and the websocket same-origin check."""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.http import is_same_domain
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

LOCKOUT_MESSAGE = "Too many failed logins for this account from your address; try again in {minutes} minutes."


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), with inline scripts allowed only under
    settings.CSP_INLINE_SCRIPT_PREFIXES: pages whose templates still carry inline <script> blocks
    (moving them to static modules or `nonce="{{ request.csp_nonce }}"` lets the prefix go)."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith(tuple(settings.CSP_INLINE_SCRIPT_PREFIXES)):
            parts.replace = {**(parts.replace or {}), "script-src": [SELF, UNSAFE_INLINE]}
        return parts


def _minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a locked-out login: 429 with a message fit to show."""
    message = LOCKOUT_MESSAGE.format(minutes=_minutes())
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


class TokenLogin(ObtainAuthToken):
    """POST username + password -> {"token": ...}: throttled per address (the "login" rate) and
    subject to the same django-axes lockout as the login page."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False) or getattr(request._request, "axes_locked_out", False):
                return Response({"detail": LOCKOUT_MESSAGE.format(minutes=_minutes())},
                                status=status.HTTP_429_TOO_MANY_REQUESTS)
            raise


class SameOriginValidator:
    """Refuses a websocket handshake whose Origin (scheme, host and port) is neither the site it was
    sent to nor one of CSRF_TRUSTED_ORIGINS (cross-site websocket hijacking rides on the victim's
    session cookie; an http:// page must not open the https:// site's sockets either).

    Browsers always send Origin; a handshake without one (a script, a test client) carries no
    third-party page's cookies, so it goes on to the session check. Wrapped by Channels'
    AllowedHostsOriginValidator, which also holds the Origin to ALLOWED_HOSTS.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = {name: value.decode("latin1") for name, value in scope.get("headers", [])}
        secure = scope.get("scheme") in ("wss", "https")
        if same_origin(headers.get(b"origin"), headers.get(b"host", ""), secure=secure):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, the port filled in from the scheme; None otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def same_origin(origin: str | None, host: str, *, secure: bool = False) -> bool:
    """Whether a handshake's Origin is the site at `host` (its Host header) reached over http(s)
    (`secure`: the socket is wss) or a trusted origin. HTTP/1.1 handshakes always carry Host;
    without one (an in-process test client) only the ALLOWED_HOSTS check of the outer validator
    applies."""
    if origin is None or not host:
        return True
    theirs = _origin(origin)
    if theirs is None:
        return False
    if theirs == _origin(f"{'https' if secure else 'http'}://{host}"):
        return True
    for trusted in map(_origin, settings.CSRF_TRUSTED_ORIGINS):
        if trusted and theirs[0] == trusted[0] and theirs[2] == trusted[2] \
                and is_same_domain(theirs[1], trusted[1].removeprefix("*")):  # "*.example.com": subdomains
            return True
    return False
