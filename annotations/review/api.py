"""REST API of the review workflow: submit, approve, request changes, comments, notifications.

Roles are checked by the actions themselves as well as here: an API client gets the same
404 (not a member) / 403 (role) / 409 (state) answers as the pages.
"""
from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from annotations.errors import Conflict
from annotations.models import Notification, Review, ReviewComment
from annotations.permissions import Cap, get_keyframe, get_shot
from annotations.review import actions


class ReviewSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revision = serializers.IntegerField(source="revision.number", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "kind", "actor", "revision", "content_hash", "comment", "sources", "created"]
        read_only_fields = fields


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revision = serializers.IntegerField(source="revision.number", read_only=True)

    class Meta:
        model = ReviewComment
        fields = ["id", "author", "revision", "text", "x", "y", "created"]
        read_only_fields = ["id", "author", "revision", "created"]
        extra_kwargs = {"x": {"required": False}, "y": {"required": False}}


class NotificationSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "project", "verb", "message", "actor", "keyframe", "shot", "created", "read_at"]
        read_only_fields = fields


class SubmitSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ApproveSerializer(serializers.Serializer):
    content_hash = serializers.CharField(required=False, max_length=64,
                                         help_text="the revision the reviewer looked at; 409 if the hints changed")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    references = serializers.ListField(child=serializers.IntegerField(), required=False,
                                       help_text="further color references checked, besides those the hints cite")


class RequestChangesSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=5000)
    content_hash = serializers.CharField(required=False, max_length=64)


class ReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                help_text="default: all of your unread notifications")


def _state(keyframe, review=None) -> dict:
    keyframe.refresh_from_db(fields=["review_status"])
    return {"keyframe": keyframe.pk, "review_status": keyframe.review_status,
            "review": ReviewSerializer(review).data if review else None}


class KeyframeReview:
    """On the keyframes' ViewSet: keyframes/{pk}/submit/, approve/, request-changes/, reviews/, comments/."""

    @extend_schema(request=SubmitSerializer,
                   responses={200: OpenApiTypes.OBJECT, 409: OpenApiResponse(description="not a draft")})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk):
        keyframe = get_keyframe(request.user, pk, Cap.SUBMIT)
        form = SubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        review = actions.submit(keyframe, request.user, form.validated_data.get("message", ""))
        return Response(_state(keyframe, review))

    @extend_schema(request=ApproveSerializer, responses={
        200: OpenApiTypes.OBJECT, 403: OpenApiResponse(description="not a reviewer, or approving one's own work"),
        409: OpenApiResponse(description="not submitted, hints changed, or colors not linked to references")})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk):
        keyframe = get_keyframe(request.user, pk, Cap.REVIEW)
        form = ApproveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        review = actions.approve(keyframe, request.user, content_hash=data.get("content_hash"),
                                 comment=data.get("comment", ""), references=data.get("references", []))
        return Response(_state(keyframe, review))

    @extend_schema(request=RequestChangesSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="request-changes", url_name="request-changes")
    def request_changes(self, request, pk):
        keyframe = get_keyframe(request.user, pk, Cap.REVIEW)
        form = RequestChangesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        review = actions.request_changes(keyframe, request.user, data["comment"], content_hash=data.get("content_hash"))
        return Response(_state(keyframe, review))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def reviews(self, request, pk):
        """The keyframe's review history, and whether its current approval counts."""
        keyframe = get_keyframe(request.user, pk)
        approval = actions.current_approval(keyframe)
        cited, unlinked = actions.cited_references(keyframe, keyframe.head)
        return Response({
            "keyframe": keyframe.pk, "review_status": keyframe.review_status, "revision": keyframe.head.number,
            "content_hash": keyframe.head.content_hash,
            "approval": ReviewSerializer(approval).data if approval else None,
            "references": actions.snapshots(cited, keyframe.head),
            "unlinked_points": [p["id"] for p in unlinked],
            "require_references": keyframe.shot.project.require_references,
            "history": ReviewSerializer(keyframe.reviews.select_related("actor", "revision"), many=True).data,
        })

    @extend_schema(methods=["GET"], responses=CommentSerializer(many=True))
    @extend_schema(methods=["POST"], request=CommentSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk):
        keyframe = get_keyframe(request.user, pk)
        if request.method == "GET":
            comments = keyframe.review_comments.select_related("author", "revision")
            return Response(CommentSerializer(comments, many=True).data)
        text, x, y = request.data.get("text"), request.data.get("x"), request.data.get("y")
        comment = actions.add_comment(keyframe, request.user, text if isinstance(text, str) else "", x, y)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class ShotReview:
    """On the shots' ViewSet: shots/{pk}/review/, where the shot's review stands."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def review(self, request, pk):
        """Every keyframe's status, and whether the shot can be rendered."""
        shot = get_shot(request.user, pk)
        keyframes = []
        for keyframe in shot.keyframes.select_related("head"):
            approval = actions.current_approval(keyframe)
            keyframes.append({"id": keyframe.pk, "frame": keyframe.frame, "review_status": keyframe.review_status,
                              "revision": keyframe.head.number, "content_hash": keyframe.head.content_hash,
                              "approved_by": getattr(approval.actor, "username", None) if approval else None})
        try:
            actions.approved_keyframes(shot)
            blocked = None
        except Conflict as exc:
            blocked = exc.message
        return Response({"shot": shot.pk, "keyframes": keyframes, "renderable": blocked is None, "blocked": blocked})


class NotificationFilter(filters.FilterSet):
    unread = filters.BooleanFilter(field_name="read_at", lookup_expr="isnull",
                                          help_text="1: only unread notifications; 0: only read ones")

    class Meta:
        model = Notification
        fields = ["unread"]


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your notifications, newest first (`?unread=1` for the unread ones only; at most 200)."""

    serializer_class = NotificationSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = NotificationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator, which has no user
            return Notification.objects.none()
        return Notification.objects.filter(recipient=self.request.user, project__memberships__user=self.request.user) \
            .distinct().select_related("actor")

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset)[:200]

    @extend_schema(request=ReadSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def read(self, request):
        form = ReadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        changed = actions.mark_read(request.user, form.validated_data.get("ids"))
        unread = Notification.objects.filter(Q(recipient=request.user) & Q(read_at=None)).count()
        return Response({"marked": changed, "unread": unread})
