"""REST API of keyframes, their hints (whole set or operations) and their revisions.

Objects are resolved through annotations.permissions; changes go through the actions."""
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

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


class KeyframeList(generics.ListAPIView):
    serializer_class = KeyframeSerializer

    def get_queryset(self):
        return get_shot(self.request.user, self.kwargs["pk"]).keyframes.select_related("head", "shot__footage")

    @extend_schema(request=KeyframeCreateSerializer, responses={201: KeyframeSerializer})
    def post(self, request, pk):
        shot = get_shot(request.user, pk, Cap.EDIT_HINTS)
        form = KeyframeCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        keyframe = actions.add_keyframe(shot, request.user, form.validated_data["frame"])
        return Response(KeyframeSerializer(keyframe).data, status=status.HTTP_201_CREATED)


class KeyframeDetail(generics.RetrieveDestroyAPIView):
    serializer_class = KeyframeSerializer

    def get_object(self):
        cap = Cap.EDIT_HINTS if self.request.method == "DELETE" else Cap.VIEW
        return get_keyframe(self.request.user, self.kwargs["pk"], cap)

    def perform_destroy(self, instance):
        actions.delete_keyframe(instance, self.request.user)


class KeyframeHints(APIView):
    @extend_schema(responses=KeyframeSerializer)
    def get(self, request, pk):
        return Response(KeyframeSerializer(get_keyframe(request.user, pk)).data)

    @extend_schema(request=HintsSaveSerializer, responses={200: KeyframeSerializer,
                   409: OpenApiResponse(description="base_revision is no longer the latest")})
    def put(self, request, pk):
        keyframe = get_keyframe(request.user, pk, Cap.EDIT_HINTS)
        form = HintsSaveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actions.save_hints(keyframe, request.user, data["hints"], base_revision=data.get("base_revision"),
                                    message=data.get("message", ""))
        return Response(KeyframeSerializer(get_keyframe(request.user, pk)).data)


class KeyframeHintOps(APIView):
    @extend_schema(request=HintOpsSerializer, responses={200: KeyframeSerializer,
                   409: OpenApiResponse(description="an op addresses a hint deleted meanwhile")})
    def post(self, request, pk):
        keyframe = get_keyframe(request.user, pk, Cap.EDIT_HINTS)
        form = HintOpsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actions.apply_hint_ops(keyframe, request.user, data["ops"], base_revision=data.get("base_revision"),
                                        message=data.get("message", ""), edit_id=data.get("edit_id", ""))
        return Response(KeyframeSerializer(get_keyframe(request.user, pk)).data)


class RevisionList(generics.ListAPIView):
    serializer_class = RevisionSummarySerializer

    def get_queryset(self):
        return get_keyframe(self.request.user, self.kwargs["pk"]).revisions.select_related("author")


class RevisionDetail(generics.RetrieveAPIView):
    serializer_class = RevisionSerializer

    def get_object(self):
        keyframe = get_keyframe(self.request.user, self.kwargs["pk"])
        revision = HintRevision.objects.filter(keyframe=keyframe, number=self.kwargs["number"]).first()
        if revision is None:
            raise Http404("no such revision")
        return revision
