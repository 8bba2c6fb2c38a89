"""REST API of footage (upload, ingest status, splitting) and shots (frames, thumbnails, filmstrips).

Objects are resolved through annotations.permissions; changes go through the actions."""
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from annotations.errors import Invalid, TooLarge
from annotations.footage import actions
from annotations.models import Footage, Shot
from annotations.permissions import Cap, get_for_user, get_project, get_shot
from annotations.uploads import upload_too_large


def jpeg(name: str) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise Http404("image not available")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


class FootageSerializer(serializers.ModelSerializer):
    frame_rate = serializers.SerializerMethodField()
    shots = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Footage
        fields = ["id", "project", "name", "kind", "size_bytes", "created", "status", "progress", "error", "codec",
                  "pix_fmt", "width", "height", "frame_count", "frame_rate", "start_timecode", "has_audio",
                  "proxy_width", "proxy_height", "cuts", "shots", "facts"]
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


class ProjectFootage:
    """On the projects' ViewSet: projects/{pk}/footage/ (list; upload) and projects/{pk}/shots/."""

    @extend_schema(methods=["GET"], responses=FootageSerializer(many=True))
    @extend_schema(methods=["POST"], request={"multipart/form-data": FootageUploadSerializer}, responses={
        202: FootageSerializer, 400: OpenApiResponse(description="not video / bad zip"),
        413: OpenApiResponse(description="over COLORPROJ_MAX_UPLOAD_BYTES")})
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser, FormParser])
    def footage(self, request, pk):
        if request.method == "GET":
            footage = get_project(request.user, pk).footage.prefetch_related("shots")
            return Response(FootageSerializer(footage, many=True).data)
        project = get_project(request.user, pk, Cap.MANAGE_FOOTAGE)
        files = request.FILES  # parses the body through the size-limited upload handler
        if upload_too_large(request):
            raise TooLarge(f"the upload is larger than the limit of {settings.COLORPROJ_MAX_UPLOAD_BYTES} bytes")
        if "file" not in files:
            raise Invalid("no file uploaded (send it as the multipart field 'file')")
        form = FootageUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        footage = actions.upload_footage(project, request.user, data["file"], name=data.get("name"),
                                         frame_rate=data.get("frame_rate"), split=data["split"])
        return Response(FootageSerializer(footage).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ShotSerializer(many=True))
    @action(detail=True, methods=["get"])
    def shots(self, request, pk):
        shots = get_project(request.user, pk).shots.select_related("footage")
        return Response(ShotSerializer(shots, many=True).data)


class FootageViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FootageSerializer
    lookup_value_regex = r"\d+"

    def get_object(self):
        cap = Cap.VIEW if self.request.method in SAFE_METHODS else Cap.MANAGE_FOOTAGE
        return get_for_user(Footage.objects.all(), self.request.user, cap, pk=self.kwargs["pk"])

    @extend_schema(request=SplitSerializer, responses=ShotSerializer(many=True))
    @action(detail=True, methods=["post"])
    def split(self, request, pk):
        footage = self.get_object()
        form = SplitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        shots = actions.split_footage(footage, request.user, form.validated_data.get("cuts"))
        return Response(ShotSerializer(shots, many=True).data)


class ShotViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A shot, and its pictures: proxy frames, thumbnail, filmstrip (routed by file name in annotations.api)."""

    serializer_class = ShotSerializer
    lookup_value_regex = r"\d+"

    def get_object(self):
        return get_shot(self.request.user, self.kwargs["pk"])

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def frame(self, request, pk, frame):
        """The proxy JPEG of one frame (gray luma, long side <= COLORPROJ_PROXY_LONG_SIDE)."""
        shot = self.get_object()
        if not 0 <= frame < shot.frame_count:
            raise Http404("no such frame")
        return jpeg(shot.footage.proxy_name(shot.footage_frame(frame)))

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def thumbnail(self, request, pk):
        return jpeg(self.get_object().thumbnail)

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def filmstrip(self, request, pk):
        return jpeg(self.get_object().filmstrip)
