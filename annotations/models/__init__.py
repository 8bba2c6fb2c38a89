"""The studio's domain, one module per area. Rows change only through the actions of each stage
(annotations.<stage>.actions)."""
from annotations.models.audit import AuditEvent
from annotations.models.footage import Footage, Shot
from annotations.models.keyframes import HintRevision, Keyframe
from annotations.models.projects import Membership, Project, Role
from annotations.models.references import ColorReference, ReferenceAttachment
from annotations.models.render import Deliverable, Render, RenderStretch
from annotations.models.review import Notification, Review, ReviewComment

__all__ = [
    "AuditEvent",
    "ColorReference",
    "Deliverable",
    "Footage",
    "HintRevision",
    "Keyframe",
    "Membership",
    "Notification",
    "Project",
    "ReferenceAttachment",
    "Render",
    "RenderStretch",
    "Review",
    "ReviewComment",
    "Role",
    "Shot",
]
