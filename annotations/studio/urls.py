from django.urls import path

from annotations.studio import views

app_name = "studio"
urlpatterns = [
    path("projects/<int:pk>/", views.project_page, name="project"),
    path("shots/<int:pk>/", views.shot_page, name="shot"),
    path("shots/<int:pk>/suggested-keyframes.json", views.suggested_keyframes, name="suggested-keyframes"),
    path("shots/<int:pk>/rendered/<int:frame>.jpg", views.rendered_frame, name="rendered-frame"),
    path("keyframes/<int:pk>/", views.keyframe_page, name="keyframe"),
    path("keyframes/<int:pk>/frame.png", views.keyframe_frame, name="keyframe-frame"),
    path("keyframes/<int:pk>/preview.jpg", views.keyframe_preview, name="keyframe-preview"),
]
