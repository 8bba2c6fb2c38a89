"""REST API of projects, members, color references and the audit trail.

Every view resolves its object through annotations.permissions (404 for non-members, 403 for a
role without the capability) and changes state only through the actions."""
from django.contrib.auth import get_user_model
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS
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


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceAttachment
        fields = ["id", "name", "content_type", "created", "url"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return reverse("api:attachment-detail", args=[attachment.pk])


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


class ProjectViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Your projects; a manager changes one (PATCH). projects/{pk}/references/: its color reference library."""

    serializer_class = ProjectSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return visible_projects(self.request.user).prefetch_related("memberships")

    def get_object(self):
        cap = Cap.VIEW if self.request.method in SAFE_METHODS else Cap.MANAGE_PROJECT
        return get_project(self.request.user, self.kwargs["pk"], cap)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = actions.create_project(self.request.user, data["name"], data.get("description", ""))

    def perform_update(self, serializer):
        serializer.instance = actions.update_project(serializer.instance, self.request.user, **serializer.validated_data)

    @extend_schema(methods=["GET"], responses=ColorReferenceSerializer(many=True))
    @extend_schema(methods=["POST"], request=ColorReferenceSerializer, responses={201: ColorReferenceSerializer})
    @action(detail=True, methods=["get", "post"], url_path="references", url_name="references")
    def references(self, request, pk):
        if request.method == "GET":
            references = get_project(request.user, pk).references.prefetch_related("attachments")
            return Response(ColorReferenceSerializer(references, many=True).data)
        project = get_project(request.user, pk, Cap.MANAGE_REFERENCES)
        form = ColorReferenceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        reference = actions.create_reference(project, request.user, **form.validated_data)
        return Response(ColorReferenceSerializer(reference).data, status=status.HTTP_201_CREATED)


class MemberViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """A project's members (projects/{project_pk}/members/); a manager adds, changes and removes them."""

    serializer_class = MembershipSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return get_project(self.request.user, self.kwargs["project_pk"]).memberships.select_related("user")

    def get_object(self):
        project = get_project(self.request.user, self.kwargs["project_pk"], Cap.MANAGE_MEMBERS)
        membership = Membership.objects.filter(project=project, pk=self.kwargs["pk"]).select_related("user").first()
        if membership is None:
            raise Http404("no such member")
        return membership

    @extend_schema(request=MemberAddSerializer, responses={202: OpenApiTypes.OBJECT})
    def create(self, request, project_pk):
        """Add the account `username` with `role`. The answer is the same whether or not such an
        account exists (202), so the endpoint tells nobody which usernames are taken; the member
        list shows who was added."""
        project = get_project(request.user, project_pk, Cap.MANAGE_MEMBERS)
        form = MemberAddSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username, role = form.validated_data["username"], form.validated_data["role"]
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is not None:
            actions.add_member(project, request.user, user, role)
        return Response({"detail": f"if an account named {username!r} exists, it is now a member ({role})",
                         "username": username, "role": role}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RoleSerializer, responses=MembershipSerializer)
    def partial_update(self, request, project_pk, pk):
        membership = self.get_object()
        form = RoleSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        membership = actions.change_role(membership, request.user, form.validated_data["role"])
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, project_pk, pk):
        actions.remove_member(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditPages(CursorPagination):
    """Newest first, 500 a page; `next` / `previous` carry the `cursor` to the neighbouring pages."""

    page_size = 500
    ordering = "-id"


class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A project's audit events (projects/{project_pk}/audit/), newest first, a page at a time
    (`?cursor=` from `next` pages back)."""

    serializer_class = AuditEventSerializer
    pagination_class = AuditPages

    def get_queryset(self):
        project = get_project(self.request.user, self.kwargs["project_pk"], Cap.VIEW_AUDIT)
        return AuditEvent.objects.filter(project=project).select_related("actor")


# --- Color references -------------------------------------------------------------------------

class ReferenceViewSet(mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    serializer_class = ColorReferenceSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_object(self):
        cap = Cap.VIEW if self.request.method in SAFE_METHODS else Cap.MANAGE_REFERENCES
        return get_for_user(ColorReference.objects.select_related("project"), self.request.user, cap,
                            pk=self.kwargs["pk"])

    def perform_update(self, serializer):
        serializer.instance = actions.update_reference(serializer.instance, self.request.user,
                                                       **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_reference(instance, self.request.user)

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: AttachmentSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attachments(self, request, pk):
        reference = self.get_object()
        if upload_too_large(request):
            raise TooLarge("the upload is too large")
        form = AttachmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        attachment = actions.add_attachment(reference, request.user, form.validated_data["file"])
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentViewSet(viewsets.GenericViewSet):
    """A reference's attachment: the file itself (GET), or gone (DELETE)."""

    lookup_value_regex = r"\d+"

    def get_object(self):
        cap = Cap.VIEW if self.request.method in SAFE_METHODS else Cap.MANAGE_REFERENCES
        return get_for_user(ReferenceAttachment.objects.select_related("reference__project"), self.request.user, cap,
                            project_field="reference__project", pk=self.kwargs["pk"])

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def retrieve(self, request, pk):
        attachment = self.get_object()
        return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type,
                            as_attachment=False, filename=attachment.name)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk):
        actions.delete_attachment(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class Me(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        user = request.user
        return Response({"id": user.pk, "username": user.username,
                         "projects": {str(m.project_id): m.role for m in user.memberships.all()}})
