from django.contrib import admin

from annotations import models


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "require_references", "created"]
    inlines = [MembershipInline]


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role", "project"]


@admin.register(models.Footage)
class FootageAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "kind", "status", "progress", "codec", "width", "height", "frame_count"]
    list_filter = ["status", "kind", "project"]
    readonly_fields = ["uid", "cuts"]


@admin.register(models.Shot)
class ShotAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "first_frame", "frame_count", "status"]
    list_filter = ["status", "project"]


class RevisionInline(admin.TabularInline):
    model = models.HintRevision
    extra = 0
    can_delete = False
    readonly_fields = ["number", "author", "created", "content_hash", "message"]
    fields = readonly_fields


@admin.register(models.Keyframe)
class KeyframeAdmin(admin.ModelAdmin):
    list_display = ["shot", "frame", "review_status", "head"]
    list_filter = ["review_status"]
    inlines = [RevisionInline]


@admin.register(models.HintRevision)
class HintRevisionAdmin(admin.ModelAdmin):
    list_display = ["keyframe", "number", "author", "created", "content_hash"]
    readonly_fields = ["keyframe", "number", "author", "created", "content", "content_hash", "message", "ops"]


class AttachmentInline(admin.TabularInline):
    model = models.ReferenceAttachment
    extra = 0


@admin.register(models.ColorReference)
class ColorReferenceAdmin(admin.ModelAdmin):
    list_display = ["name", "color", "project", "source_kind"]
    list_filter = ["project", "source_kind"]
    inlines = [AttachmentInline]


@admin.register(models.ReferenceAttachment)
class ReferenceAttachmentAdmin(admin.ModelAdmin):
    list_display = ["name", "reference", "content_type", "created"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "project", "actor", "verb", "target_type", "target_id"]
    list_filter = ["verb", "project"]
    readonly_fields = [f.name for f in models.AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["created", "keyframe", "kind", "actor", "content_hash"]
    list_filter = ["kind"]
    readonly_fields = ["keyframe", "revision", "content_hash", "kind", "actor", "comment", "sources", "created"]


@admin.register(models.ReviewComment)
class ReviewCommentAdmin(admin.ModelAdmin):
    list_display = ["created", "keyframe", "author", "x", "y"]


@admin.register(models.Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created", "recipient", "project", "verb", "read_at"]
    list_filter = ["verb", "project"]


class RenderStretchInline(admin.TabularInline):
    model = models.RenderStretch
    extra = 0
    can_delete = False
    readonly_fields = ["index", "start", "end", "status", "frames_done", "attempts", "finished"]
    fields = readonly_fields


class DeliverableInline(admin.TabularInline):
    model = models.Deliverable
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "filename", "size_bytes", "created"]
    fields = readonly_fields


@admin.register(models.Render)
class RenderAdmin(admin.ModelAdmin):
    list_display = ["created", "shot", "status", "progress", "requested_by", "output_hash"]
    list_filter = ["status"]
    readonly_fields = ["uid", "inputs_hash", "output_hash", "engines", "keyframes", "qc"]
    inlines = [RenderStretchInline, DeliverableInline]
