from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotations.actions.keyframes import EDIT_ID
from annotations.models import (AuditEvent, ColorReference, Footage, HintRevision, Keyframe, Membership, Project,
                                ReferenceAttachment, Role, Shot)
from annotations.permissions import capabilities


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "require_references", "created", "role", "capabilities"]
        read_only_fields = ["id", "created"]

    def get_role(self, project) -> str | None:
        user = self.context["request"].user
        return next((m.role for m in project.memberships.all() if m.user_id == user.pk), None)

    def get_capabilities(self, project) -> list[str]:
        return sorted(capabilities(self.context["request"].user, project))


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(source="user", slug_field="username", queryset=get_user_model().objects.all())
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created"]
        read_only_fields = ["id", "created"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class FootageSerializer(serializers.ModelSerializer):
    frame_rate = serializers.SerializerMethodField()
    shots = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Footage
        fields = ["id", "project", "name", "kind", "size_bytes", "created", "status", "progress", "error", "codec",
                  "pix_fmt", "width", "height", "frame_count", "frame_rate", "start_timecode", "has_audio",
                  "proxy_width", "proxy_height", "cuts", "shots"]
        read_only_fields = fields

    def get_frame_rate(self, footage) -> str | None:
        """"24000/1001"; for video, known once ingest has probed it."""
        if footage.kind == Footage.Kind.VIDEO and footage.status != Footage.Status.READY:
            return None
        return str(footage.frame_rate)


class FootageUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="video file or zip of an image sequence")
    name = serializers.CharField(required=False, max_length=200)
    frame_rate = serializers.CharField(required=False, help_text="for image sequences, e.g. 24 or 24000/1001")
    split = serializers.BooleanField(required=False, default=False, help_text="split at detected scene cuts")


class SplitSerializer(serializers.Serializer):
    cuts = serializers.ListField(child=serializers.IntegerField(), required=False,
                                 help_text="first frame of each new shot; default: the detected cuts")


class ShotSerializer(serializers.ModelSerializer):
    frame_rate = serializers.SerializerMethodField()
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)
    start_timecode = serializers.CharField(read_only=True)
    proxy_width = serializers.IntegerField(source="footage.proxy_width", read_only=True)
    proxy_height = serializers.IntegerField(source="footage.proxy_height", read_only=True)
    keyframe_count = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    class Meta:
        model = Shot
        fields = ["id", "project", "footage", "name", "first_frame", "frame_count", "frame_rate", "width", "height",
                  "start_timecode", "status", "proxy_width", "proxy_height", "filmstrip_frames", "keyframe_count",
                  "urls", "created"]
        read_only_fields = fields

    def get_frame_rate(self, shot) -> str:
        return str(shot.frame_rate)

    def get_keyframe_count(self, shot) -> int:
        return shot.keyframes.count()

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_urls(self, shot) -> dict:
        return {
            "frame": reverse("api:shot-frame", args=[shot.pk, 0]).replace("/0.jpg", "/{frame}.jpg"),
            "thumbnail": reverse("api:shot-thumbnail", args=[shot.pk]),
            "filmstrip": reverse("api:shot-filmstrip", args=[shot.pk]),
        }


class RevisionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = HintRevision
        fields = ["number", "author", "created", "content_hash", "message", "ops", "content"]
        read_only_fields = fields


class RevisionSummarySerializer(RevisionSerializer):
    class Meta(RevisionSerializer.Meta):
        fields = ["number", "author", "created", "content_hash", "message", "ops"]
        read_only_fields = fields


class KeyframeSerializer(serializers.ModelSerializer):
    revision = serializers.IntegerField(source="head.number", read_only=True)
    content_hash = serializers.CharField(source="head.content_hash", read_only=True)
    hints = serializers.JSONField(read_only=True)
    timecode = serializers.SerializerMethodField()

    class Meta:
        model = Keyframe
        fields = ["id", "shot", "frame", "timecode", "review_status", "revision", "content_hash", "hints", "created"]
        read_only_fields = ["id", "shot", "timecode", "review_status", "revision", "content_hash", "hints", "created"]

    def get_timecode(self, keyframe) -> str:
        return keyframe.shot.timecode(keyframe.frame)


class KeyframeCreateSerializer(serializers.Serializer):
    frame = serializers.IntegerField()


class HintsSaveSerializer(serializers.Serializer):
    hints = serializers.JSONField(help_text='{"points": [...], "strokes": [...]}')
    base_revision = serializers.IntegerField(required=False, allow_null=True,
                                             help_text="refuse (409) unless this is still the latest revision")
    message = serializers.CharField(required=False, allow_blank=True, max_length=500)


class HintOpsSerializer(serializers.Serializer):
    ops = serializers.ListField(child=serializers.JSONField(), help_text="see docs/api.md for the operations")
    base_revision = serializers.IntegerField(required=False, allow_null=True)
    edit_id = serializers.RegexField(EDIT_ID, required=False,
                                     help_text="your id for this edit: sending it again applies it once")
    message = serializers.CharField(required=False, allow_blank=True, max_length=500)


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceAttachment
        fields = ["id", "name", "content_type", "created", "url"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return reverse("api:attachment-file", args=[attachment.pk])


class ColorReferenceSerializer(serializers.ModelSerializer):
    attachments = AttachmentSerializer(many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ColorReference
        fields = ["id", "project", "name", "color", "source_kind", "citation", "url", "notes", "created_by",
                  "created", "attachments"]
        read_only_fields = ["id", "project", "created_by", "created", "attachments"]
        extra_kwargs = {"color": {"validators": []}}


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "timestamp", "actor", "verb", "target_type", "target_id", "before", "after"]
        read_only_fields = fields
