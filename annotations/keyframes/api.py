"""REST API of keyframes, their hints (whole set or operations) and their revisions.

Objects are resolved through annotations.permissions; changes go through the actions."""
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from annotations.keyframes import actions
from annotations.keyframes.actions import EDIT_ID
from annotations.models import HintRevision, Keyframe
from annotations.permissions import Cap, get_keyframe, get_shot


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


class ShotKeyframes:
    """On the shots' ViewSet: shots/{pk}/keyframes/ (list; add one at a frame)."""

    @extend_schema(methods=["GET"], responses=KeyframeSerializer(many=True))
    @extend_schema(methods=["POST"], request=KeyframeCreateSerializer, responses={201: KeyframeSerializer})
    @action(detail=True, methods=["get", "post"])
    def keyframes(self, request, pk):
        if request.method == "GET":
            keyframes = get_shot(request.user, pk).keyframes.select_related("head", "shot__footage")
            return Response(KeyframeSerializer(keyframes, many=True).data)
        shot = get_shot(request.user, pk, Cap.EDIT_HINTS)
        form = KeyframeCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        keyframe = actions.add_keyframe(shot, request.user, form.validated_data["frame"])
        return Response(KeyframeSerializer(keyframe).data, status=status.HTTP_201_CREATED)


class KeyframeViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """A keyframe, its hints (the whole set, or operations on it)."""

    serializer_class = KeyframeSerializer
    lookup_value_regex = r"\d+"

    def get_object(self):
        cap = Cap.EDIT_HINTS if self.request.method == "DELETE" else Cap.VIEW
        return get_keyframe(self.request.user, self.kwargs["pk"], cap)

    def perform_destroy(self, instance):
        actions.delete_keyframe(instance, self.request.user)

    @extend_schema(methods=["GET"], responses=KeyframeSerializer)
    @extend_schema(methods=["PUT"], request=HintsSaveSerializer, responses={200: KeyframeSerializer,
                   409: OpenApiResponse(description="base_revision is no longer the latest")})
    @action(detail=True, methods=["get", "put"])
    def hints(self, request, pk):
        if request.method == "GET":
            return Response(KeyframeSerializer(get_keyframe(request.user, pk)).data)
        keyframe = get_keyframe(request.user, pk, Cap.EDIT_HINTS)
        form = HintsSaveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actions.save_hints(keyframe, request.user, data["hints"], base_revision=data.get("base_revision"),
                           message=data.get("message", ""))
        return Response(KeyframeSerializer(get_keyframe(request.user, pk)).data)

    @extend_schema(request=HintOpsSerializer, responses={200: KeyframeSerializer,
                   409: OpenApiResponse(description="an op addresses a hint deleted meanwhile")})
    @action(detail=True, methods=["post"], url_path="hints/ops", url_name="hint-ops")
    def hint_ops(self, request, pk):
        keyframe = get_keyframe(request.user, pk, Cap.EDIT_HINTS)
        form = HintOpsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actions.apply_hint_ops(keyframe, request.user, data["ops"], base_revision=data.get("base_revision"),
                               message=data.get("message", ""), edit_id=data.get("edit_id", ""))
        return Response(KeyframeSerializer(get_keyframe(request.user, pk)).data)


class RevisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A keyframe's hint revisions (keyframes/{keyframe_pk}/revisions/{number}/)."""

    lookup_field = "number"
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return RevisionSummarySerializer if self.action == "list" else RevisionSerializer

    def get_queryset(self):
        return get_keyframe(self.request.user, self.kwargs["keyframe_pk"]).revisions.select_related("author")

    def get_object(self):
        revision = self.get_queryset().filter(number=self.kwargs["number"]).first()
        if revision is None:
            raise Http404("no such revision")
        return revision
