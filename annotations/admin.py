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
