"""Project pages: the user's projects with their shots and status (and, for those allowed, a form to
start a project), one project's overview, its studio page (footage, shots, members, color references)
and its members page (a manager invites members, sets their roles and the project's policies).

Pages only read; every change goes through the REST API and so through the actions."""
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from annotations.models import AuditEvent, ColorReference, Footage, Role
from annotations.permissions import Cap, capabilities, get_project, may_create_projects, visible_projects
from annotations.projects import actions
from annotations.shot_state import project_state, shot_state

# The audit verbs the members page lists: who joined, left or changed role, and policy changes.
MEMBER_VERBS = ("project.created", "project.updated", "member.added", "member.role_changed", "member.removed")


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
        rows.append({"project": project, "role": roles.get(project.pk), "shots": shots, "pending": pending,
                     "state": project_state([shot.state for shot in shots])})
    return render(request, "annotations/home.html", {"rows": rows, "may_create": may_create_projects(request.user)})


@login_required
def project_overview(request, pk):
    project = get_project(request.user, pk)
    shots = _shots(project)
    return render(request, "annotations/project.html", {
        "project": project,
        "state": project_state([shot.state for shot in shots]),
        "shots": shots,
        "footage": project.footage.all(),
        "members": project.memberships.select_related("user"),
        "references": project.references.all(),
    })


@login_required
def project_page(request, pk):
    project = get_project(request.user, pk)
    caps = capabilities(request.user, project)
    shots = _shots(project)
    return render(request, "studio/project.html", {
        "project": project,
        "state": project_state([shot.state for shot in shots]),
        "caps": caps,
        "can_manage_members": Cap.MANAGE_MEMBERS in caps,
        "can_edit_refs": Cap.MANAGE_REFERENCES in caps,
        "can_upload": Cap.MANAGE_FOOTAGE in caps,
        "max_upload_bytes": settings.COLORPROJ_MAX_UPLOAD_BYTES,
        "footage": project.footage.annotate(shot_count=Count("shots")).order_by("-created"),
        "shots": shots,
        "members": project.memberships.select_related("user").order_by("role", "user__username"),
        "references": actions.reference_library(project),
        "source_kinds": ColorReference.SourceKind.choices,
    })


@login_required
def members_page(request, pk):
    """The project's members with their roles, its policies and the recent membership changes.
    A manager adds members, changes roles, removes members and edits the policies here; other
    members see the same page read-only (the API refuses them anyway)."""
    project = get_project(request.user, pk)
    caps = capabilities(request.user, project)
    history = []
    if Cap.VIEW_AUDIT in caps:
        history = AuditEvent.objects.filter(project=project, verb__in=MEMBER_VERBS).select_related("actor")[:30]
    return render(request, "studio/members.html", {
        "project": project,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "roles": Role.choices,
        "can_manage_members": Cap.MANAGE_MEMBERS in caps,
        "can_manage_project": Cap.MANAGE_PROJECT in caps,
        "history": history,
    })
