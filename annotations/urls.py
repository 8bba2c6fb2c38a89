"""The pages of every stage. Studio pages keep the "studio" namespace; the REST API is annotations.api."""
from django.urls import include, path

from annotations.keyframes import pages as keyframes
from annotations.projects import pages as projects
from annotations.render import pages as render
from annotations.review import pages as review

studio = ([
    path("projects/<int:pk>/", projects.project_page, name="project"),
    path("projects/<int:pk>/members/", projects.members_page, name="members"),
    path("shots/<int:pk>/", keyframes.shot_page, name="shot"),
    path("shots/<int:pk>/suggested-keyframes.json", keyframes.suggested_keyframes, name="suggested-keyframes"),
    path("shots/<int:pk>/rendered/<int:frame>.jpg", render.rendered_frame, name="rendered-frame"),
    path("keyframes/<int:pk>/", keyframes.keyframe_page, name="keyframe"),
    path("keyframes/<int:pk>/frame.png", keyframes.keyframe_frame, name="keyframe-frame"),
    path("keyframes/<int:pk>/preview.jpg", keyframes.keyframe_preview, name="keyframe-preview"),
], "studio")

urlpatterns = [
    path("", projects.home, name="home"),
    path("projects/<int:pk>/", projects.project_overview, name="project"),
    path("studio/", include(studio)),
    path("review/keyframes/<int:pk>/", review.keyframe_review, name="review-keyframe"),
    path("review/keyframes/<int:pk>/preview.png", review.keyframe_preview, name="review-keyframe-preview"),
    path("review/shots/<int:pk>/", review.shot_review, name="review-shot"),
    path("review/shots/<int:pk>/report/", review.review_report, name="review-report"),
    path("review/notifications/", review.notifications, name="notifications"),
    path("review/renders/<int:pk>/progress.json", render.render_progress, name="render-progress"),
    path("review/renders/<int:pk>/player.json", render.render_player, name="render-player"),
    path("review/renders/<int:pk>/frames/<int:frame>.jpg", render.render_frame, name="render-frame"),
]
