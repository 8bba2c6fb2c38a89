"""The REST API: one router over every stage's ViewSets, and how action errors become answers.

Schema at /api/schema/, browsable docs at /api/docs/; docs/api.md describes hint operations and
live events."""
from django.db import DataError
from django.urls import path
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.errors import ActionError
from annotations.footage import api as footage
from annotations.keyframes import api as keyframes
from annotations.projects import api as projects
from annotations.render import api as render
from annotations.review import api as review
from colorproj.security import TokenLogin


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


class ProjectViewSet(projects.ProjectViewSet, footage.ProjectFootage):
    """projects/, projects/{pk}/ and the project's footage/, shots/, references/."""


class ShotViewSet(footage.ShotViewSet, keyframes.ShotKeyframes, review.ShotReview, render.ShotRenders):
    """shots/{pk}/ and the shot's keyframes/, review/, renders/."""


class KeyframeViewSet(keyframes.KeyframeViewSet, review.KeyframeReview):
    """keyframes/{pk}/, its hints/ and hints/ops/, and its submit/, approve/, request-changes/,
    reviews/, comments/."""


# One router for every stage's ViewSets. A resource that several stages serve (a shot: its
# keyframes, review and renders) is one ViewSet composed above from each stage's part.
router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_pk>\d+)/members", projects.MemberViewSet, basename="member")
router.register(r"projects/(?P<project_pk>\d+)/audit", projects.AuditViewSet, basename="audit")
router.register("references", projects.ReferenceViewSet, basename="reference")
router.register("attachments", projects.AttachmentViewSet, basename="attachment")
router.register("footage", footage.FootageViewSet, basename="footage")
router.register("shots", ShotViewSet, basename="shot")
router.register("keyframes", KeyframeViewSet, basename="keyframe")
router.register(r"keyframes/(?P<keyframe_pk>\d+)/revisions", keyframes.RevisionViewSet, basename="revision")
router.register("renders", render.RenderViewSet, basename="render")
router.register("notifications", review.NotificationViewSet, basename="notification")

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenLogin.as_view(), name="token"),
    path("me/", projects.Me.as_view(), name="me"),
    *router.urls,
    # Files, named as files: the router would end their paths with a slash.
    path("shots/<int:pk>/frames/<int:frame>.jpg", ShotViewSet.as_view({"get": "frame"}), name="shot-frame"),
    path("shots/<int:pk>/thumbnail.jpg", ShotViewSet.as_view({"get": "thumbnail"}), name="shot-thumbnail"),
    path("shots/<int:pk>/filmstrip.jpg", ShotViewSet.as_view({"get": "filmstrip"}), name="shot-filmstrip"),
    path("renders/<int:pk>/contact-sheet.jpg", render.RenderViewSet.as_view({"get": "picture"}),
         {"picture": "contact-sheet"}, name="render-contact-sheet"),
    path("renders/<int:pk>/qc.png", render.RenderViewSet.as_view({"get": "picture"}), {"picture": "qc"},
         name="render-qc-chart"),
    path("renders/<int:pk>/confidence.png", render.RenderViewSet.as_view({"get": "picture"}),
         {"picture": "confidence"}, name="render-confidence-sheet"),
    path("renders/<int:pk>/deliverables/<str:kind>/", render.RenderViewSet.as_view({"get": "deliverable"}),
         name="deliverable-download"),
    path("renders/<int:pk>/deliverables/<str:kind>/manifest.json", render.RenderViewSet.as_view({"get": "manifest"}),
         name="deliverable-manifest"),
]
