from django.urls import path

from annotations.api import render as r
from annotations.api import review as rv
from annotations.api import views as v
from colorproj.security import TokenLogin

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenLogin.as_view(), name="token"),
    path("me/", v.Me.as_view(), name="me"),
    path("projects/", v.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", v.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:pk>/members/", v.MemberList.as_view(), name="member-list"),
    path("projects/<int:pk>/members/<int:member_pk>/", v.MemberDetail.as_view(), name="member-detail"),
    path("projects/<int:pk>/footage/", v.FootageList.as_view(), name="footage-list"),
    path("projects/<int:pk>/shots/", v.ShotList.as_view(), name="shot-list"),
    path("projects/<int:pk>/references/", v.ReferenceList.as_view(), name="reference-list"),
    path("projects/<int:pk>/audit/", v.AuditList.as_view(), name="audit-list"),
    path("footage/<int:pk>/", v.FootageDetail.as_view(), name="footage-detail"),
    path("footage/<int:pk>/split/", v.FootageSplit.as_view(), name="footage-split"),
    path("shots/<int:pk>/", v.ShotDetail.as_view(), name="shot-detail"),
    path("shots/<int:pk>/frames/<int:frame>.jpg", v.ShotFrame.as_view(), name="shot-frame"),
    path("shots/<int:pk>/thumbnail.jpg", v.ShotThumbnail.as_view(), name="shot-thumbnail"),
    path("shots/<int:pk>/filmstrip.jpg", v.ShotFilmstrip.as_view(), name="shot-filmstrip"),
    path("shots/<int:pk>/keyframes/", v.KeyframeList.as_view(), name="keyframe-list"),
    path("keyframes/<int:pk>/", v.KeyframeDetail.as_view(), name="keyframe-detail"),
    path("keyframes/<int:pk>/hints/", v.KeyframeHints.as_view(), name="keyframe-hints"),
    path("keyframes/<int:pk>/hints/ops/", v.KeyframeHintOps.as_view(), name="keyframe-hint-ops"),
    path("keyframes/<int:pk>/revisions/", v.RevisionList.as_view(), name="revision-list"),
    path("keyframes/<int:pk>/revisions/<int:number>/", v.RevisionDetail.as_view(), name="revision-detail"),
    path("references/<int:pk>/", v.ReferenceDetail.as_view(), name="reference-detail"),
    path("references/<int:pk>/attachments/", v.ReferenceAttachments.as_view(), name="reference-attachments"),
    path("attachments/<int:pk>/", v.AttachmentFile.as_view(), name="attachment-file"),
    # Review workflow and notifications
    path("keyframes/<int:pk>/submit/", rv.KeyframeSubmit.as_view(), name="keyframe-submit"),
    path("keyframes/<int:pk>/approve/", rv.KeyframeApprove.as_view(), name="keyframe-approve"),
    path("keyframes/<int:pk>/request-changes/", rv.KeyframeRequestChanges.as_view(), name="keyframe-request-changes"),
    path("keyframes/<int:pk>/reviews/", rv.KeyframeReviews.as_view(), name="keyframe-reviews"),
    path("keyframes/<int:pk>/comments/", rv.KeyframeComments.as_view(), name="keyframe-comments"),
    path("shots/<int:pk>/review/", rv.ShotReview.as_view(), name="shot-review"),
    path("notifications/", rv.NotificationList.as_view(), name="notification-list"),
    path("notifications/read/", rv.NotificationRead.as_view(), name="notification-read"),
    # Renders and deliverables
    path("shots/<int:pk>/renders/", r.ShotRenders.as_view(), name="shot-renders"),
    path("renders/<int:pk>/", r.RenderDetail.as_view(), name="render-detail"),
    path("renders/<int:pk>/retry/", r.RenderRetry.as_view(), name="render-retry"),
    path("renders/<int:pk>/cancel/", r.RenderCancel.as_view(), name="render-cancel"),
    path("renders/<int:pk>/remove-files/", r.RenderRemoveFiles.as_view(), name="render-remove-files"),
    path("renders/<int:pk>/contact-sheet.jpg", r.RenderPicture.as_view(), {"picture": "contact-sheet"},
         name="render-contact-sheet"),
    path("renders/<int:pk>/qc.png", r.RenderPicture.as_view(), {"picture": "qc"}, name="render-qc-chart"),
    path("renders/<int:pk>/deliverables/<str:kind>/", r.DeliverableDownload.as_view(), name="deliverable-download"),
    path("renders/<int:pk>/deliverables/<str:kind>/manifest.json", r.DeliverableManifest.as_view(),
         name="deliverable-manifest"),
]
