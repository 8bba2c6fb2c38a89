"""Projects and memberships."""
from __future__ import annotations

from django.db import transaction

from annotations.actions.audit import record
from annotations.errors import Conflict, Invalid
from annotations.models import Membership, Project, Role


@transaction.atomic
def create_project(actor, name: str, description: str = "") -> Project:
    """A new project; its creator becomes its manager."""
    name = (name or "").strip()
    if not name:
        raise Invalid("a project needs a name")
    project = Project.objects.create(name=name, description=description)
    Membership.objects.create(project=project, user=actor, role=Role.MANAGER)
    record(project, actor, "project.created", project, after={"name": name, "manager": actor.username})
    return project


@transaction.atomic
def update_project(project: Project, actor, **changes) -> Project:
    allowed = {"name", "description", "require_references"}
    unknown = set(changes) - allowed
    if unknown:
        raise Invalid(f"cannot change: {', '.join(sorted(unknown))}")
    before = {key: getattr(project, key) for key in changes}
    for key, value in changes.items():
        setattr(project, key, value)
    project.save(update_fields=list(changes))
    record(project, actor, "project.updated", project, before=before, after=changes)
    return project


def _check_role(role: str) -> str:
    if role not in Role.values:
        raise Invalid(f"unknown role {role!r}; roles are {', '.join(Role.values)}")
    return role


@transaction.atomic
def add_member(project: Project, actor, user, role: str) -> Membership:
    _check_role(role)
    if Membership.objects.filter(project=project, user=user).exists():
        raise Conflict(f"{user.username} is already a member of this project")
    membership = Membership.objects.create(project=project, user=user, role=role)
    record(project, actor, "member.added", membership, after={"user": user.username, "role": role})
    return membership


def _keep_a_manager(membership: Membership) -> None:
    others = Membership.objects.filter(project=membership.project, role=Role.MANAGER).exclude(pk=membership.pk)
    if membership.role == Role.MANAGER and not others.exists():
        raise Conflict("a project needs at least one manager")


@transaction.atomic
def change_role(membership: Membership, actor, role: str) -> Membership:
    _check_role(role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if role != Role.MANAGER:
        _keep_a_manager(membership)
    before = {"user": membership.user.username, "role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    record(membership.project, actor, "member.role_changed", membership, before=before,
           after={"user": membership.user.username, "role": role})
    return membership


@transaction.atomic
def remove_member(membership: Membership, actor) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _keep_a_manager(membership)
    record(membership.project, actor, "member.removed", membership,
           before={"user": membership.user.username, "role": membership.role})
    membership.delete()
