from django.urls import include, path

from annotations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<int:pk>/", views.project_page, name="project"),
    path("review/", include("annotations.review_views")),
]
