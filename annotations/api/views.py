"""REST API. Every view resolves its object through annotations.permissions (404 for non-members,
403 for a role without the capability) and changes state only through annotations.actions."""
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.actions import footage as footage_actions
from annotations.actions import keyframes as keyframe_actions
from annotations.actions import projects as project_actions
from annotations.actions import references as reference_actions
from annotations.api import serializers as s
from annotations.errors import Invalid, TooLarge
from annotations.models import (AuditEvent, ColorReference, Footage, HintRevision, Keyframe, Membership, Project,
                                ReferenceAttachment, Shot)
from annotations.permissions import Cap, get_for_user, visible_projects
from annotations.uploads import upload_too_large


def get_project(request, pk, cap=Cap.VIEW) -> Project:
    return get_for_user(Project.objects.all(), request.user, cap, project_field="", pk=pk)


def get_shot(request, pk, cap=Cap.VIEW) -> Shot:
    return get_for_user(Shot.objects.select_related("footage", "project"), request.user, cap, pk=pk)


def get_keyframe(request, pk, cap=Cap.VIEW) -> Keyframe:
    return get_for_user(Keyframe.objects.select_related("shot__footage", "shot__project", "head"),
                        request.user, cap, project_field="shot__project", pk=pk)


def jpeg(name: str) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise Http404("image not available")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- Projects and members ---------------------------------------------------------------------

class ProjectList(generics.ListCreateAPIView):
    serializer_class = s.ProjectSerializer

    def get_queryset(self):
        return visible_projects(self.request.user).prefetch_related("memberships")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = project_actions.create_project(self.request.user, data["name"], data.get("description", ""))


class ProjectDetail(generics.RetrieveUpdateAPIView):
    serializer_class = s.ProjectSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        cap = Cap.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Cap.MANAGE_PROJECT
        return get_project(self.request, self.kwargs["pk"], cap)

    def perform_update(self, serializer):
        serializer.instance = project_actions.update_project(serializer.instance, self.request.user, **serializer.validated_data)


class MemberList(generics.ListCreateAPIView):
    serializer_class = s.MembershipSerializer

    def get_queryset(self):
        project = get_project(self.request, self.kwargs["pk"])
        return project.memberships.select_related("user")

    def perform_create(self, serializer):
        project = get_project(self.request, self.kwargs["pk"], Cap.MANAGE_MEMBERS)
        data = serializer.validated_data
        serializer.instance = project_actions.add_member(project, self.request.user, data["user"], data["role"])


class MemberDetail(APIView):
    def _membership(self, request, pk, member_pk, cap):
        project = get_project(request, pk, cap)
        membership = Membership.objects.filter(project=project, pk=member_pk).select_related("user").first()
        if membership is None:
            raise Http404("no such member")
        return membership

    @extend_schema(request=s.RoleSerializer, responses=s.MembershipSerializer)
    def patch(self, request, pk, member_pk):
        membership = self._membership(request, pk, member_pk, Cap.MANAGE_MEMBERS)
        data = s.RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = project_actions.change_role(membership, request.user, data.validated_data["role"])
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk, member_pk):
        project_actions.remove_member(self._membership(request, pk, member_pk, Cap.MANAGE_MEMBERS), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Footage and shots ------------------------------------------------------------------------

class FootageList(generics.ListAPIView):
    serializer_class = s.FootageSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return get_project(self.request, self.kwargs["pk"]).footage.prefetch_related("shots")

    @extend_schema(request={"multipart/form-data": s.FootageUploadSerializer}, responses={
        202: s.FootageSerializer, 400: OpenApiResponse(description="not video / bad zip"),
        413: OpenApiResponse(description="over COLORPROJ_MAX_UPLOAD_BYTES")})
    def post(self, request, pk):
        project = get_project(request, pk, Cap.MANAGE_FOOTAGE)
        files = request.FILES  # parses the body through the size-limited upload handler
        if upload_too_large(request):
            raise TooLarge(f"the upload is larger than the limit of {settings.COLORPROJ_MAX_UPLOAD_BYTES} bytes")
        if "file" not in files:
            raise Invalid("no file uploaded (send it as the multipart field 'file')")
        form = s.FootageUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        footage = footage_actions.upload_footage(project, request.user, data["file"], name=data.get("name"),
                                                 frame_rate=data.get("frame_rate"), split=data["split"])
        return Response(s.FootageSerializer(footage).data, status=status.HTTP_202_ACCEPTED)


class FootageDetail(generics.RetrieveAPIView):
    serializer_class = s.FootageSerializer

    def get_object(self):
        return get_for_user(Footage.objects.all(), self.request.user, pk=self.kwargs["pk"])


class FootageSplit(APIView):
    @extend_schema(request=s.SplitSerializer, responses=s.ShotSerializer(many=True))
    def post(self, request, pk):
        footage = get_for_user(Footage.objects.all(), request.user, Cap.MANAGE_FOOTAGE, pk=pk)
        form = s.SplitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        shots = footage_actions.split_footage(footage, request.user, form.validated_data.get("cuts"))
        return Response(s.ShotSerializer(shots, many=True).data)


class ShotList(generics.ListAPIView):
    serializer_class = s.ShotSerializer

    def get_queryset(self):
        return get_project(self.request, self.kwargs["pk"]).shots.select_related("footage")


class ShotDetail(generics.RetrieveAPIView):
    serializer_class = s.ShotSerializer

    def get_object(self):
        return get_shot(self.request, self.kwargs["pk"])


class ShotFrame(APIView):
    """The proxy JPEG of one frame (gray luma, long side <= COLORPROJ_PROXY_LONG_SIDE)."""

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, pk, frame):
        shot = get_shot(request, pk)
        if not 0 <= frame < shot.frame_count:
            raise Http404("no such frame")
        return jpeg(shot.footage.proxy_name(shot.footage_frame(frame)))


class ShotThumbnail(APIView):
    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        return jpeg(get_shot(request, pk).thumbnail)


class ShotFilmstrip(APIView):
    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        return jpeg(get_shot(request, pk).filmstrip)


# --- Keyframes and hints ----------------------------------------------------------------------

class KeyframeList(generics.ListAPIView):
    serializer_class = s.KeyframeSerializer

    def get_queryset(self):
        return get_shot(self.request, self.kwargs["pk"]).keyframes.select_related("head", "shot__footage")

    @extend_schema(request=s.KeyframeCreateSerializer, responses={201: s.KeyframeSerializer})
    def post(self, request, pk):
        shot = get_shot(request, pk, Cap.EDIT_HINTS)
        form = s.KeyframeCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        keyframe = keyframe_actions.add_keyframe(shot, request.user, form.validated_data["frame"])
        return Response(s.KeyframeSerializer(keyframe).data, status=status.HTTP_201_CREATED)


class KeyframeDetail(generics.RetrieveDestroyAPIView):
    serializer_class = s.KeyframeSerializer

    def get_object(self):
        cap = Cap.EDIT_HINTS if self.request.method == "DELETE" else Cap.VIEW
        return get_keyframe(self.request, self.kwargs["pk"], cap)

    def perform_destroy(self, instance):
        keyframe_actions.delete_keyframe(instance, self.request.user)


class KeyframeHints(APIView):
    @extend_schema(responses=s.KeyframeSerializer)
    def get(self, request, pk):
        return Response(s.KeyframeSerializer(get_keyframe(request, pk)).data)

    @extend_schema(request=s.HintsSaveSerializer, responses={200: s.KeyframeSerializer,
                   409: OpenApiResponse(description="base_revision is no longer the latest")})
    def put(self, request, pk):
        keyframe = get_keyframe(request, pk, Cap.EDIT_HINTS)
        form = s.HintsSaveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        keyframe_actions.save_hints(keyframe, request.user, data["hints"], base_revision=data.get("base_revision"),
                                    message=data.get("message", ""))
        return Response(s.KeyframeSerializer(get_keyframe(request, pk)).data)


class KeyframeHintOps(APIView):
    @extend_schema(request=s.HintOpsSerializer, responses={200: s.KeyframeSerializer,
                   409: OpenApiResponse(description="an op addresses a hint deleted meanwhile")})
    def post(self, request, pk):
        keyframe = get_keyframe(request, pk, Cap.EDIT_HINTS)
        form = s.HintOpsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        keyframe_actions.apply_hint_ops(keyframe, request.user, data["ops"], base_revision=data.get("base_revision"),
                                        message=data.get("message", ""), edit_id=data.get("edit_id", ""))
        return Response(s.KeyframeSerializer(get_keyframe(request, pk)).data)


class RevisionList(generics.ListAPIView):
    serializer_class = s.RevisionSummarySerializer

    def get_queryset(self):
        return get_keyframe(self.request, self.kwargs["pk"]).revisions.select_related("author")


class RevisionDetail(generics.RetrieveAPIView):
    serializer_class = s.RevisionSerializer

    def get_object(self):
        keyframe = get_keyframe(self.request, self.kwargs["pk"])
        revision = HintRevision.objects.filter(keyframe=keyframe, number=self.kwargs["number"]).first()
        if revision is None:
            raise Http404("no such revision")
        return revision


# --- Color references -------------------------------------------------------------------------

class ReferenceList(generics.ListCreateAPIView):
    serializer_class = s.ColorReferenceSerializer

    def get_queryset(self):
        return get_project(self.request, self.kwargs["pk"]).references.prefetch_related("attachments")

    def perform_create(self, serializer):
        project = get_project(self.request, self.kwargs["pk"], Cap.MANAGE_REFERENCES)
        serializer.instance = reference_actions.create_reference(project, self.request.user, **serializer.validated_data)


class ReferenceDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = s.ColorReferenceSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        cap = Cap.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Cap.MANAGE_REFERENCES
        return get_for_user(ColorReference.objects.select_related("project"), self.request.user, cap, pk=self.kwargs["pk"])

    def perform_update(self, serializer):
        serializer.instance = reference_actions.update_reference(serializer.instance, self.request.user,
                                                                 **serializer.validated_data)

    def perform_destroy(self, instance):
        reference_actions.delete_reference(instance, self.request.user)


class ReferenceAttachments(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": s.AttachmentUploadSerializer}, responses={201: s.AttachmentSerializer})
    def post(self, request, pk):
        reference = get_for_user(ColorReference.objects.select_related("project"), request.user,
                                 Cap.MANAGE_REFERENCES, pk=pk)
        if upload_too_large(request):
            raise TooLarge("the upload is too large")
        form = s.AttachmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        attachment = reference_actions.add_attachment(reference, request.user, form.validated_data["file"])
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentFile(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        attachment = get_for_user(ReferenceAttachment.objects.all(), request.user,
                                  project_field="reference__project", pk=pk)
        return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type,
                            as_attachment=False, filename=attachment.name)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        attachment = get_for_user(ReferenceAttachment.objects.select_related("reference__project"), request.user,
                                  Cap.MANAGE_REFERENCES, project_field="reference__project", pk=pk)
        reference_actions.delete_attachment(attachment, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Audit ------------------------------------------------------------------------------------

class AuditList(generics.ListAPIView):
    """The newest audit events of a project (at most 500; `?before=<id>` pages back)."""

    serializer_class = s.AuditEventSerializer

    def get_queryset(self):
        project = get_project(self.request, self.kwargs["pk"], Cap.VIEW_AUDIT)
        events = AuditEvent.objects.filter(project=project).select_related("actor")
        before = self.request.query_params.get("before")
        if before and before.isdigit():
            events = events.filter(pk__lt=int(before))
        return events[:500]


class Me(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        user = request.user
        return Response({"id": user.pk, "username": user.username,
                         "projects": {str(m.project_id): m.role for m in user.memberships.all()}})

