"""Plain pages: the user's projects and their shots. The annotation studio builds on base.html."""
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from annotations.models import Footage, Project
from annotations.permissions import Cap, get_for_user, visible_projects


@login_required
def home(request):
    projects = visible_projects(request.user).prefetch_related("memberships__user")
    roles = {m.project_id: m.role for m in request.user.memberships.all()}
    rows = []
    for project in projects:
        shots = project.shots.select_related("footage").annotate(keyframe_count=Count("keyframes"))
        pending = project.footage.exclude(status=Footage.Status.READY)
        rows.append({"project": project, "role": roles.get(project.pk), "shots": shots, "pending": pending})
    return render(request, "annotations/home.html", {"rows": rows})


@login_required
def project_page(request, pk):
    project = get_for_user(Project.objects.all(), request.user, Cap.VIEW, project_field="", pk=pk)
    return render(request, "annotations/project.html", {
        "project": project,
        "shots": project.shots.select_related("footage").annotate(keyframe_count=Count("keyframes")),
        "footage": project.footage.all(),
        "members": project.memberships.select_related("user"),
        "references": project.references.all(),
    })
