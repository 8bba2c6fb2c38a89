"""The REST API: one URL table over every stage's views, and how action errors become answers.

Schema at /api/schema/, browsable docs at /api/docs/; docs/api.md describes hint operations and
live events."""
from django.db import DataError
from django.urls import path
from rest_framework.response import Response
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


app_name = "api"
urlpatterns = [
    path("auth/token/", TokenLogin.as_view(), name="token"),
    path("me/", projects.Me.as_view(), name="me"),
    path("projects/", projects.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", projects.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:pk>/members/", projects.MemberList.as_view(), name="member-list"),
    path("projects/<int:pk>/members/<int:member_pk>/", projects.MemberDetail.as_view(), name="member-detail"),
    path("projects/<int:pk>/footage/", footage.FootageList.as_view(), name="footage-list"),
    path("projects/<int:pk>/shots/", footage.ShotList.as_view(), name="shot-list"),
    path("projects/<int:pk>/references/", projects.ReferenceList.as_view(), name="reference-list"),
    path("projects/<int:pk>/audit/", projects.AuditList.as_view(), name="audit-list"),
    path("footage/<int:pk>/", footage.FootageDetail.as_view(), name="footage-detail"),
    path("footage/<int:pk>/split/", footage.FootageSplit.as_view(), name="footage-split"),
    path("shots/<int:pk>/", footage.ShotDetail.as_view(), name="shot-detail"),
    path("shots/<int:pk>/frames/<int:frame>.jpg", footage.ShotFrame.as_view(), name="shot-frame"),
    path("shots/<int:pk>/thumbnail.jpg", footage.ShotThumbnail.as_view(), name="shot-thumbnail"),
    path("shots/<int:pk>/filmstrip.jpg", footage.ShotFilmstrip.as_view(), name="shot-filmstrip"),
    path("shots/<int:pk>/keyframes/", keyframes.KeyframeList.as_view(), name="keyframe-list"),
    path("keyframes/<int:pk>/", keyframes.KeyframeDetail.as_view(), name="keyframe-detail"),
    path("keyframes/<int:pk>/hints/", keyframes.KeyframeHints.as_view(), name="keyframe-hints"),
    path("keyframes/<int:pk>/hints/ops/", keyframes.KeyframeHintOps.as_view(), name="keyframe-hint-ops"),
    path("keyframes/<int:pk>/revisions/", keyframes.RevisionList.as_view(), name="revision-list"),
    path("keyframes/<int:pk>/revisions/<int:number>/", keyframes.RevisionDetail.as_view(), name="revision-detail"),
    path("references/<int:pk>/", projects.ReferenceDetail.as_view(), name="reference-detail"),
    path("references/<int:pk>/attachments/", projects.ReferenceAttachments.as_view(), name="reference-attachments"),
    path("attachments/<int:pk>/", projects.AttachmentFile.as_view(), name="attachment-file"),
    # Review workflow and notifications
    path("keyframes/<int:pk>/submit/", review.KeyframeSubmit.as_view(), name="keyframe-submit"),
    path("keyframes/<int:pk>/approve/", review.KeyframeApprove.as_view(), name="keyframe-approve"),
    path("keyframes/<int:pk>/request-changes/", review.KeyframeRequestChanges.as_view(), name="keyframe-request-changes"),
    path("keyframes/<int:pk>/reviews/", review.KeyframeReviews.as_view(), name="keyframe-reviews"),
    path("keyframes/<int:pk>/comments/", review.KeyframeComments.as_view(), name="keyframe-comments"),
    path("shots/<int:pk>/review/", review.ShotReview.as_view(), name="shot-review"),
    path("notifications/", review.NotificationList.as_view(), name="notification-list"),
    path("notifications/read/", review.NotificationRead.as_view(), name="notification-read"),
    # Renders and deliverables
    path("shots/<int:pk>/renders/", render.ShotRenders.as_view(), name="shot-renders"),
    path("renders/<int:pk>/", render.RenderDetail.as_view(), name="render-detail"),
    path("renders/<int:pk>/retry/", render.RenderRetry.as_view(), name="render-retry"),
    path("renders/<int:pk>/cancel/", render.RenderCancel.as_view(), name="render-cancel"),
    path("renders/<int:pk>/remove-files/", render.RenderRemoveFiles.as_view(), name="render-remove-files"),
    path("renders/<int:pk>/contact-sheet.jpg", render.RenderPicture.as_view(), {"picture": "contact-sheet"},
         name="render-contact-sheet"),
    path("renders/<int:pk>/qc.png", render.RenderPicture.as_view(), {"picture": "qc"}, name="render-qc-chart"),
    path("renders/<int:pk>/deliverables/<str:kind>/", render.DeliverableDownload.as_view(), name="deliverable-download"),
    path("renders/<int:pk>/deliverables/<str:kind>/manifest.json", render.DeliverableManifest.as_view(),
         name="deliverable-manifest"),
]
