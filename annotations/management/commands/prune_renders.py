"""Free disk space: remove the stored files of superseded and long-failed renders.

A render keeps every frame as a 16-bit PNG plus its deliverables, which for a feature adds up to
terabytes; a shot rendered ten times keeps ten copies. This keeps the newest finished renders of
each shot and removes the files of the others (their rows, manifests and audit trail stay).
Meant for cron, e.g. nightly: `python manage.py prune_renders --keep 2`.
"""
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from annotations import storage
from annotations.render import actions as render_actions
from annotations.models import Render


def superseded(keep: int, failed_days: float) -> list[Render]:
    """Renders whose files may go: finished ones beyond the newest `keep` of their shot, and
    failed ones that ended more than `failed_days` ago (in case someone retries them)."""
    with_files = Render.objects.filter(files_removed__isnull=True).select_related("shot")
    chosen, kept = [], {}
    for render in with_files.filter(status=Render.Status.DONE).order_by("shot_id", "-finished", "-pk"):
        kept[render.shot_id] = kept.get(render.shot_id, 0) + 1
        if kept[render.shot_id] > keep:
            chosen.append(render)
    cutoff = timezone.now() - timedelta(days=failed_days)
    chosen += with_files.filter(status=Render.Status.FAILED, finished__lt=cutoff).order_by("pk")
    return chosen


class Command(BaseCommand):
    help = "Remove the stored files of all but the newest finished renders of each shot, and of old failed renders."

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, default=2, help="finished renders kept per shot (default 2, at least 1)")
        parser.add_argument("--failed-days", type=float, default=7,
                            help="remove failed renders' files this many days after they failed (default 7)")
        parser.add_argument("--dry-run", action="store_true", help="only list what would be removed")

    def handle(self, *args, keep, failed_days, dry_run, **options):
        if keep < 1:
            raise CommandError("--keep must be at least 1: the newest finished render of a shot is never pruned")
        if failed_days < 0:
            raise CommandError("--failed-days cannot be negative")
        renders = superseded(keep, failed_days)
        total = 0
        for number, render in enumerate(renders, 1):
            if dry_run:
                size = sum(size for _, size in storage.stored_files(render.storage_dir))
            else:
                size = render_actions.remove_files(render, None)
            total += size
            self.stdout.write(f"[{number}/{len(renders)}] render {render.pk} of {render.shot.name} "
                              f"({render.status}, {render.finished:%Y-%m-%d %H:%M}): {filesizeformat(size)}")
        verb = "would free" if dry_run else "freed"
        self.stdout.write(f"{len(renders)} render(s), {verb} {filesizeformat(total)}")
