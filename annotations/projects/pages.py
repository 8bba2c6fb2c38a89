"""Project pages: the user's projects with their shots, one project's overview, and its studio page
(footage, shots, members, color references)."""
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from annotations.models import ColorReference, Footage
from annotations.permissions import Cap, capabilities, get_project, visible_projects
from annotations.projects import actions
from annotations.shot_state import shot_state


def _shots(project) -> list:
    """The project's shots with their keyframe count and `state` (key, label): where each stands."""
    shots = list(project.shots.select_related("footage").annotate(keyframe_count=Count("keyframes")))
    for shot in shots:
        shot.state = shot_state(shot)
    return shots


@login_required
def home(request):
    projects = visible_projects(request.user).prefetch_related("memberships__user")
    roles = {m.project_id: m.role for m in request.user.memberships.all()}
    rows = []
    for project in projects:
        shots = _shots(project)
        pending = project.footage.exclude(status=Footage.Status.READY)
        rows.append({"project": project, "role": roles.get(project.pk), "shots": shots, "pending": pending})
    return render(request, "annotations/home.html", {"rows": rows})


@login_required
def project_overview(request, pk):
    project = get_project(request.user, pk)
    return render(request, "annotations/project.html", {
        "project": project,
        "shots": _shots(project),
        "footage": project.footage.all(),
        "members": project.memberships.select_related("user"),
        "references": project.references.all(),
    })


@login_required
def project_page(request, pk):
    project = get_project(request.user, pk)
    caps = capabilities(request.user, project)
    return render(request, "studio/project.html", {
        "project": project,
        "caps": caps,
        "can_edit_refs": Cap.MANAGE_REFERENCES in caps,
        "can_upload": Cap.MANAGE_FOOTAGE in caps,
        "max_upload_bytes": settings.COLORPROJ_MAX_UPLOAD_BYTES,
        "footage": project.footage.annotate(shot_count=Count("shots")).order_by("-created"),
        "shots": _shots(project),
        "members": project.memberships.select_related("user").order_by("role", "user__username"),
        "references": actions.reference_library(project),
        "source_kinds": ColorReference.SourceKind.choices,
    })
