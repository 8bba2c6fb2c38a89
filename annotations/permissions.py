"""Who may do what: one table of capabilities per project role, used by pages, the API and sockets.

A user who is not a member of a project gets 404 for everything in it (its ids do not leak);
a member whose role lacks a capability gets 403. A deactivated account holds no capability.
Any change of a membership or of an account's state closes that user's open sockets
(`access_changed` below; the sockets themselves re-check access on every message).
"""
from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404

from annotations import events
from annotations.errors import NotAllowed
from annotations.models import Keyframe, Membership, Project, Role, Shot


class Cap:
    VIEW = "view"                          # see the project, its shots, keyframes, hints, references
    EDIT_HINTS = "edit_hints"              # add/remove keyframes, edit hints
    SUBMIT = "submit"                      # submit keyframes for review
    REVIEW = "review"                      # approve or request changes
    MANAGE_REFERENCES = "manage_references"  # add/edit color references and their sources
    MANAGE_FOOTAGE = "manage_footage"      # upload footage, split it into shots
    RENDER = "render"                      # start renders
    DOWNLOAD = "download"                  # download deliverables
    VIEW_AUDIT = "view_audit"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_PROJECT = "manage_project"


CAPABILITIES: dict[str, frozenset[str]] = {
    Role.ANNOTATOR: frozenset({Cap.VIEW, Cap.EDIT_HINTS, Cap.SUBMIT, Cap.MANAGE_REFERENCES}),
    Role.REVIEWER: frozenset({Cap.VIEW, Cap.REVIEW, Cap.MANAGE_REFERENCES, Cap.VIEW_AUDIT}),
    Role.PRODUCER: frozenset({Cap.VIEW, Cap.MANAGE_FOOTAGE, Cap.RENDER, Cap.DOWNLOAD, Cap.VIEW_AUDIT}),
    Role.MANAGER: frozenset(
        {Cap.VIEW, Cap.EDIT_HINTS, Cap.SUBMIT, Cap.MANAGE_REFERENCES, Cap.MANAGE_FOOTAGE, Cap.RENDER,
         Cap.DOWNLOAD, Cap.VIEW_AUDIT, Cap.MANAGE_MEMBERS, Cap.MANAGE_PROJECT}
    ),
}


def role_of(user, project: Project | int) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    project_id = project if isinstance(project, int) else project.pk
    return Membership.objects.filter(project_id=project_id, user=user, user__is_active=True) \
        .values_list("role", flat=True).first()


def capabilities(user, project: Project | int) -> frozenset[str]:
    role = role_of(user, project)
    return CAPABILITIES.get(role, frozenset())


def can(user, project: Project | int, capability: str) -> bool:
    return capability in capabilities(user, project)


def require(user, project: Project | int, capability: str) -> None:
    """404 for non-members, 403 for members without the capability."""
    caps = capabilities(user, project)
    if not caps:
        raise Http404("no such project")
    if capability not in caps:
        raise NotAllowed(f"your role in this project does not allow: {capability.replace('_', ' ')}")


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="membership_access_changed")
def membership_changed(sender, instance: Membership, created: bool = False, **kwargs) -> None:
    """A role changed or a membership ended (an action, the admin, a deleted project)."""
    if not created:
        events.access_changed(instance.user_id, instance.project_id)


@receiver([post_save, post_delete], sender=settings.AUTH_USER_MODEL, dispatch_uid="account_access_changed")
def account_changed(sender, instance, created: bool = False, **kwargs) -> None:
    """An account deactivated or deleted loses every socket at once."""
    if not created and (not instance.is_active or kwargs.get("signal") is post_delete):
        events.access_changed(instance.pk)


def may_create_projects(user) -> bool:
    """settings.COLORPROJ_PROJECT_CREATORS: "staff" (the default: staff accounts, and users given the
    `annotations.add_project` permission, e.g. with `allow_project_creation`) or "anyone" (every
    signed-in user)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return settings.COLORPROJ_PROJECT_CREATORS == "anyone" or user.is_staff or user.has_perm("annotations.add_project")


def allow_project_creation(user) -> None:
    """Give `user` the right to create projects (also in the admin: user permissions)."""
    from django.contrib.auth.models import Permission  # the auth app's rows, only needed here

    user.user_permissions.add(Permission.objects.get(content_type__app_label="annotations", codename="add_project"))
    user.__dict__.pop("_perm_cache", None)
    user.__dict__.pop("_user_perm_cache", None)


def visible_projects(user):
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user).distinct()


def get_for_user(queryset, user, capability: str = Cap.VIEW, project_field: str = "project", **lookup):
    """Fetch one row of `queryset` the user may act on (`project_field` leads to its project)."""
    filter_key = f"{project_field}__memberships__user" if project_field else "memberships__user"
    signed_in = getattr(user, "is_authenticated", False)
    obj = queryset.filter(**{filter_key: user}, **lookup).distinct().first() if signed_in else None
    if obj is None:
        raise Http404("not found")
    project = obj
    for part in project_field.split("__") if project_field else []:
        project = getattr(project, part)
    require(user, project, capability)
    return obj


def get_project(user, pk, capability: str = Cap.VIEW) -> Project:
    """The project `pk` if `user` holds `capability` in it (404 for non-members, 403 for the role)."""
    return get_for_user(Project.objects.all(), user, capability, project_field="", pk=pk)


def get_shot(user, pk, capability: str = Cap.VIEW) -> Shot:
    """The shot `pk` (with its footage and project) if `user` holds `capability` in its project."""
    return get_for_user(Shot.objects.select_related("footage", "project"), user, capability, pk=pk)


def get_keyframe(user, pk, capability: str = Cap.VIEW) -> Keyframe:
    """The keyframe `pk` (with shot, footage, project and head revision) if `user` holds `capability`."""
    return get_for_user(Keyframe.objects.select_related("shot__footage", "shot__project", "head"),
                        user, capability, project_field="shot__project", pk=pk)
