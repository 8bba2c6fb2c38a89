"""REST API of projects, members, color references and the audit trail.

Every view resolves its object through annotations.permissions (404 for non-members, 403 for a
role without the capability) and changes state only through the actions."""
from django.contrib.auth import get_user_model
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.errors import TooLarge
from annotations.models import AuditEvent, ColorReference, Membership, Project, ReferenceAttachment, Role
from annotations.permissions import Cap, capabilities, get_for_user, get_project, visible_projects
from annotations.projects import actions
from annotations.uploads import upload_too_large


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


class ProjectList(generics.ListCreateAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return visible_projects(self.request.user).prefetch_related("memberships")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = actions.create_project(self.request.user, data["name"], data.get("description", ""))


class ProjectDetail(generics.RetrieveUpdateAPIView):
    serializer_class = ProjectSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        cap = Cap.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Cap.MANAGE_PROJECT
        return get_project(self.request.user, self.kwargs["pk"], cap)

    def perform_update(self, serializer):
        serializer.instance = actions.update_project(serializer.instance, self.request.user, **serializer.validated_data)


class MemberList(generics.ListCreateAPIView):
    serializer_class = MembershipSerializer

    def get_queryset(self):
        project = get_project(self.request.user, self.kwargs["pk"])
        return project.memberships.select_related("user")

    def perform_create(self, serializer):
        project = get_project(self.request.user, self.kwargs["pk"], Cap.MANAGE_MEMBERS)
        data = serializer.validated_data
        serializer.instance = actions.add_member(project, self.request.user, data["user"], data["role"])


class MemberDetail(APIView):
    def _membership(self, request, pk, member_pk, cap):
        project = get_project(request.user, pk, cap)
        membership = Membership.objects.filter(project=project, pk=member_pk).select_related("user").first()
        if membership is None:
            raise Http404("no such member")
        return membership

    @extend_schema(request=RoleSerializer, responses=MembershipSerializer)
    def patch(self, request, pk, member_pk):
        membership = self._membership(request, pk, member_pk, Cap.MANAGE_MEMBERS)
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = actions.change_role(membership, request.user, data.validated_data["role"])
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk, member_pk):
        actions.remove_member(self._membership(request, pk, member_pk, Cap.MANAGE_MEMBERS), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Color references -------------------------------------------------------------------------

class ReferenceList(generics.ListCreateAPIView):
    serializer_class = ColorReferenceSerializer

    def get_queryset(self):
        return get_project(self.request.user, self.kwargs["pk"]).references.prefetch_related("attachments")

    def perform_create(self, serializer):
        project = get_project(self.request.user, self.kwargs["pk"], Cap.MANAGE_REFERENCES)
        serializer.instance = actions.create_reference(project, self.request.user, **serializer.validated_data)


class ReferenceDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ColorReferenceSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        cap = Cap.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Cap.MANAGE_REFERENCES
        return get_for_user(ColorReference.objects.select_related("project"), self.request.user, cap, pk=self.kwargs["pk"])

    def perform_update(self, serializer):
        serializer.instance = actions.update_reference(serializer.instance, self.request.user,
                                                                 **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_reference(instance, self.request.user)


class ReferenceAttachments(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: AttachmentSerializer})
    def post(self, request, pk):
        reference = get_for_user(ColorReference.objects.select_related("project"), request.user,
                                 Cap.MANAGE_REFERENCES, pk=pk)
        if upload_too_large(request):
            raise TooLarge("the upload is too large")
        form = AttachmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        attachment = actions.add_attachment(reference, request.user, form.validated_data["file"])
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


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
        actions.delete_attachment(attachment, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Audit ------------------------------------------------------------------------------------

class AuditPages(CursorPagination):
    """Newest first, 500 a page; `next` / `previous` carry the `cursor` to the neighbouring pages."""

    page_size = 500
    ordering = "-id"


class AuditList(generics.ListAPIView):
    """The project's audit events, newest first, a page at a time (`?cursor=` from `next` pages back)."""

    serializer_class = AuditEventSerializer
    pagination_class = AuditPages

    def get_queryset(self):
        project = get_project(self.request.user, self.kwargs["pk"], Cap.VIEW_AUDIT)
        return AuditEvent.objects.filter(project=project).select_related("actor")


class Me(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        user = request.user
        return Response({"id": user.pk, "username": user.username,
                         "projects": {str(m.project_id): m.role for m in user.memberships.all()}})

