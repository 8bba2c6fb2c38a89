"""Projects, their members and their color reference library."""
from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from annotations import permissions
from annotations.audit import record
from annotations.errors import Conflict, Invalid, NotAllowed
from annotations.models import ColorReference, Keyframe, Membership, Project, ReferenceAttachment, Role
from annotations.permissions import Cap
from inference.hints import HintError, parse_color


@transaction.atomic
def create_project(actor, name: str, description: str = "") -> Project:
    """A new project; its creator becomes its manager. NotAllowed unless the actor may create
    projects (`permissions.may_create_projects`: staff or given the right, by default)."""
    if not permissions.may_create_projects(actor):
        raise NotAllowed("creating projects is reserved to staff and to accounts given that right; ask an administrator")
    name = (name or "").strip()
    if not name:
        raise Invalid("a project needs a name")
    project = Project.objects.create(name=name, description=description)
    Membership.objects.create(project=project, user=actor, role=Role.MANAGER)
    record(project, actor, "project.created", project, after={"name": name, "manager": actor.username})
    return project


@transaction.atomic
def update_project(project: Project, actor, **changes) -> Project:
    permissions.require(actor, project, Cap.MANAGE_PROJECT)
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
    permissions.require(actor, project, Cap.MANAGE_MEMBERS)
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
    permissions.require(actor, membership.project_id, Cap.MANAGE_MEMBERS)
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
    permissions.require(actor, membership.project_id, Cap.MANAGE_MEMBERS)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _keep_a_manager(membership)
    record(membership.project, actor, "member.removed", membership,
           before={"user": membership.user.username, "role": membership.role})
    membership.delete()


# --- The color reference library ------------------------------------------------------------

FIELDS = ("name", "color", "source_kind", "citation", "url", "notes")
ATTACHMENT_MAX_BYTES = 50 * 2**20
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"II*\x00": "image/tiff",
               b"MM\x00*": "image/tiff", b"%PDF-": "application/pdf", b"GIF8": "image/gif", b"RIFF": "image/webp"}


def _clean(fields: dict) -> dict:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise Invalid(f"unknown fields: {', '.join(sorted(unknown))}")
    if "name" in fields and not str(fields["name"]).strip():
        raise Invalid("a color reference needs a name")
    if "color" in fields:
        try:
            fields["color"] = "#%02x%02x%02x" % parse_color(fields["color"])
        except HintError as exc:
            raise Invalid(str(exc)) from None
    if "source_kind" in fields and fields["source_kind"] not in ColorReference.SourceKind.values:
        raise Invalid(f"source_kind must be one of {', '.join(ColorReference.SourceKind.values)}")
    return fields


def _snapshot(reference: ColorReference) -> dict:
    return {key: getattr(reference, key) for key in FIELDS}


@transaction.atomic
def create_reference(project, actor, **fields) -> ColorReference:
    permissions.require(actor, project, Cap.MANAGE_REFERENCES)
    fields = _clean(fields)
    if "name" not in fields or "color" not in fields:
        raise Invalid("a color reference needs a name and a color")
    reference = ColorReference.objects.create(project=project, created_by=actor, **fields)
    record(project, actor, "reference.created", reference, after=_snapshot(reference))
    return reference


@transaction.atomic
def update_reference(reference: ColorReference, actor, **changes) -> ColorReference:
    permissions.require(actor, reference.project_id, Cap.MANAGE_REFERENCES)
    changes = _clean(changes)
    before = _snapshot(reference)
    for key, value in changes.items():
        setattr(reference, key, value)
    reference.save()
    record(reference.project, actor, "reference.updated", reference, before=before, after=_snapshot(reference))
    return reference


def citing_keyframes(reference: ColorReference) -> list[int]:
    """Keyframes whose latest hints point at this reference."""
    heads = Keyframe.objects.filter(shot__project=reference.project_id).values_list("pk", "head__content")
    return [pk for pk, content in heads
            if content and any(p.get("reference") == reference.pk for p in content.get("points", []))]


@transaction.atomic
def delete_reference(reference: ColorReference, actor) -> None:
    permissions.require(actor, reference.project_id, Cap.MANAGE_REFERENCES)
    citing = citing_keyframes(reference)
    if citing:
        raise Conflict(f"hints on keyframes {citing} cite this reference; change them first")
    record(reference.project, actor, "reference.deleted", reference, before=_snapshot(reference))
    for attachment in reference.attachments.all():
        attachment.file.delete(save=False)
    reference.delete()


def add_attachment(reference: ColorReference, actor, uploaded) -> ReferenceAttachment:
    """Attach an image or PDF (by content) to a reference."""
    permissions.require(actor, reference.project_id, Cap.MANAGE_REFERENCES)
    if (uploaded.size or 0) > ATTACHMENT_MAX_BYTES:
        raise Invalid(f"attachments are limited to {ATTACHMENT_MAX_BYTES // 2**20} MB")
    head = uploaded.read(16)
    uploaded.seek(0)
    content_type = next((kind for magic, kind in _SIGNATURES.items() if head.startswith(magic)), None)
    if content_type is None:
        raise Invalid("attachments must be images (PNG, JPEG, TIFF, GIF, WebP) or PDF documents")
    name = (uploaded.name or "attachment")[:200]
    attachment = ReferenceAttachment(reference=reference, name=name, content_type=content_type, uploaded_by=actor)
    attachment.file.save("attachment", uploaded, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            record(reference.project, actor, "reference.attachment_added", attachment,
                   after={"reference": reference.pk, "name": name, "content_type": content_type})
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


@transaction.atomic
def delete_attachment(attachment: ReferenceAttachment, actor) -> None:
    permissions.require(actor, attachment.reference.project_id, Cap.MANAGE_REFERENCES)
    record(attachment.reference.project, actor, "reference.attachment_deleted", attachment,
           before={"reference": attachment.reference_id, "name": attachment.name})
    file = attachment.file
    attachment.delete()
    # The file goes only once the row's deletion is committed, so a rollback loses nothing.
    transaction.on_commit(lambda: file.storage.delete(file.name))


def reference_library(project: Project) -> list[dict]:
    """The project's color references as the studio pages show them (with their attachments' URLs)."""
    return [{"id": r.pk, "name": r.name, "color": r.color, "source": r.get_source_kind_display(),
             "citation": r.citation, "url": r.url,
             "attachments": [{"id": a.pk, "name": a.name, "content_type": a.content_type,
                              "url": reverse("api:attachment-detail", args=[a.pk])} for a in r.attachments.all()]}
            for r in project.references.prefetch_related("attachments")]
