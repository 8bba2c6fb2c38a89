"""REST API of renders and deliverables (producers start renders and download; members watch)."""
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from annotations.errors import Gone
from annotations.models import Deliverable, Render, RenderStretch
from annotations.permissions import Cap, get_for_user, get_shot
from annotations.render import actions, deliverables, pipeline
from annotations.render.download import file_download


class StretchSerializer(serializers.ModelSerializer):
    class Meta:
        model = RenderStretch
        fields = ["index", "start", "end", "status", "frames_done", "attempts", "sha256", "finished"]
        read_only_fields = fields


class DeliverableSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="get_kind_display", read_only=True)
    url = serializers.SerializerMethodField()
    manifest_url = serializers.SerializerMethodField()

    class Meta:
        model = Deliverable
        fields = ["kind", "label", "filename", "content_type", "size_bytes", "sha256", "url", "manifest_url"]
        read_only_fields = fields

    def get_url(self, deliverable) -> str:
        return reverse("api:deliverable-download", args=[deliverable.render_id, deliverable.kind])

    def get_manifest_url(self, deliverable) -> str:
        return reverse("api:deliverable-manifest", args=[deliverable.render_id, deliverable.kind])


class RenderSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    stretches = StretchSerializer(many=True, read_only=True)
    deliverables = DeliverableSerializer(many=True, read_only=True)
    keyframes = serializers.SerializerMethodField()

    class Meta:
        model = Render
        fields = ["id", "shot", "status", "progress", "error", "requested_by", "created", "started", "finished",
                  "keyframe_method", "propagation_method", "sequence_start", "keyframes", "inputs_hash", "engines",
                  "output_hash", "qc", "files_removed", "stretches", "deliverables"]
        read_only_fields = fields

    def get_keyframes(self, render) -> list[dict]:
        return [{k: v for k, v in entry.items() if k != "hints"} for entry in render.keyframes]


class StartSerializer(serializers.Serializer):
    sequence_start = serializers.IntegerField(required=False, min_value=0, max_value=actions.MAX_SEQUENCE_START,
                                              help_text="first number of the PNG sequence (default 1001)")


def get_render(user, pk, cap=Cap.VIEW) -> Render:
    return get_for_user(Render.objects.select_related("shot__project", "shot__footage", "requested_by"),
                        user, cap, project_field="shot__project", pk=pk)


def _detail(render_id: int) -> dict:
    renders = Render.objects.select_related("requested_by").prefetch_related("stretches", "deliverables")
    return RenderSerializer(renders.get(pk=render_id)).data


class ShotRenders:
    """On the shots' ViewSet: shots/{pk}/renders/ (list; start one)."""

    @extend_schema(methods=["GET"], responses=RenderSerializer(many=True))
    @extend_schema(methods=["POST"], request=StartSerializer, responses={
        202: RenderSerializer, 409: OpenApiResponse(description="not every keyframe approved, or already rendering")})
    @action(detail=True, methods=["get", "post"])
    def renders(self, request, pk):
        if request.method == "GET":
            renders = get_shot(request.user, pk).renders.select_related("requested_by") \
                .prefetch_related("stretches", "deliverables")
            return Response(RenderSerializer(renders, many=True).data)
        shot = get_shot(request.user, pk, Cap.RENDER)
        form = StartSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        render = actions.start_render(shot, request.user, sequence_start=form.validated_data.get("sequence_start"))
        return Response(_detail(render.pk), status=status.HTTP_202_ACCEPTED)


def _files_kept(render: Render) -> None:
    if render.files_removed:
        raise Gone(f"the files of render {render.pk} were removed on {render.files_removed:%Y-%m-%d} "
                   "to free space; render the shot again")


class RenderViewSet(viewsets.GenericViewSet):
    """A render: status, live progress, why it failed, quality checks, stretches, deliverables; retry,
    cancel, remove its files; its pictures and deliverables (routed by file name in annotations.api)."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses=RenderSerializer)
    def retrieve(self, request, pk):
        return Response(_detail(get_render(request.user, pk).pk))

    @extend_schema(request=None, responses={202: RenderSerializer, 409: OpenApiResponse(description="not failed")})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk):
        render = actions.retry_render(get_render(request.user, pk, Cap.RENDER), request.user)
        return Response(_detail(render.pk), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: RenderSerializer, 409: OpenApiResponse(description="not active")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk):
        render = actions.cancel_render(get_render(request.user, pk, Cap.RENDER), request.user)
        return Response(_detail(render.pk))

    @extend_schema(request=None, responses={200: RenderSerializer, 409: OpenApiResponse(description="still running")})
    @action(detail=True, methods=["post"], url_path="remove-files", url_name="remove-files")
    def remove_files(self, request, pk):
        """Delete a finished or failed render's stored files to free space (its record and manifests stay)."""
        render = get_render(request.user, pk, Cap.RENDER)
        actions.remove_files(render, request.user)
        return Response(_detail(render.pk))

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def picture(self, request, pk, picture):
        """The before/after contact sheet (`contact-sheet`), the QC curves (`qc`) or the sheet of
        confidence maps (`confidence`) of a finished render."""
        render = get_render(request.user, pk)
        if picture not in pipeline.PICTURES or render.status != Render.Status.DONE:
            raise Http404("no such picture")
        _files_kept(render)
        name = pipeline.picture_name(render, picture)
        if not default_storage.exists(name):
            raise Http404("no such picture")
        response = FileResponse(default_storage.open(name, "rb"), content_type=pipeline.PICTURES[picture][1])
        response["Cache-Control"] = "private, max-age=86400"
        return response

    def _deliverable(self, request, pk, kind) -> Deliverable:
        render = get_render(request.user, pk, Cap.DOWNLOAD)
        deliverable = render.deliverables.filter(kind=kind).first()
        if deliverable is None:
            raise Http404(f"no {kind} deliverable for this render" + ("" if render.status == "done" else " yet"))
        return deliverable

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                              (206, "application/octet-stream"): OpenApiTypes.BINARY})
    def deliverable(self, request, pk, kind):
        """The file, streamed; resumable with `Range: bytes=...` (206 Partial Content)."""
        deliverable = self._deliverable(request, pk, kind)
        _files_kept(deliverable.render)
        return file_download(request, deliverable.file, filename=deliverable.filename,
                             content_type=deliverable.content_type, etag=deliverable.sha256)

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def manifest(self, request, pk, kind):
        deliverable = self._deliverable(request, pk, kind)
        response = HttpResponse(deliverables.manifest_json(deliverable.manifest), content_type="application/json")
        response["Content-Disposition"] = content_disposition_header(True, f"{deliverable.filename}.manifest.json")
        return response
