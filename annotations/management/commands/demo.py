"""Demo users (one per role), a demo project and a demo shot, ingested through the normal path."""
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from annotations.footage import actions as footage_actions
from annotations.projects import actions as project_actions
from annotations.projects import actions as reference_actions
from annotations.demo import synthetic_reel
from annotations.models import Footage, Membership, Project, Role
from colorproj import jobs
from inference.media import write_video

PASSWORD = "colorproj-demo"
# A name for each demo account: the editor's presence avatars show their initials.
NAMES = {Role.ANNOTATOR: ("Alma", "Andersen"), Role.REVIEWER: ("Rafael", "Reyes"),
         Role.PRODUCER: ("Priya", "Patel"), Role.MANAGER: ("Marek", "Novak")}
PROJECT = "Demo: harbour newsreel, 1914"


class Command(BaseCommand):
    help = "Create demo users, a demo project and a synthetic demo shot (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="URL to print for the login")
        parser.add_argument("--password", default=PASSWORD)

    def handle(self, *args, url, password, **options):
        User = get_user_model()
        users = {}
        for role in Role.values:
            user, created = User.objects.get_or_create(username=f"demo-{role}")
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = role == Role.MANAGER
            if created or not user.get_full_name():
                user.first_name, user.last_name = NAMES[role]
                user.save()
            users[role] = user

        project = Project.objects.filter(name=PROJECT).first()
        if project is None:
            with transaction.atomic():
                project = project_actions.create_project(users[Role.MANAGER], PROJECT,
                                                         "A synthetic three-scene reel to try the studio with.")
                for role in (Role.ANNOTATOR, Role.REVIEWER, Role.PRODUCER):
                    project_actions.add_member(project, users[Role.MANAGER], users[role], role)
                reference_actions.create_reference(
                    project, users[Role.MANAGER], name="Harbour crane, dock paint 1914", color="#6b4a2f",
                    source_kind="archive", citation="Port authority maintenance ledger, 1913-1915, p. 42")
        for role, user in users.items():
            if not Membership.objects.filter(project=project, user=user).exists():
                project_actions.add_member(project, users[Role.MANAGER], user, role)

        if not project.footage.exclude(status=Footage.Status.FAILED).exists():
            self.stdout.write("Encoding and ingesting the demo reel...")
            footage = self._upload_reel(project, users[Role.PRODUCER])
            self._wait(footage)

        self.stdout.write(self.style.SUCCESS(f"\ncolorproj is ready at {url}"))
        self.stdout.write(f"Log in as any of: {', '.join(u.username for u in users.values())}")
        self.stdout.write(f"Password: {password}   (demo-manager can also open {url}admin/)\n")

    def _upload_reel(self, project, producer) -> Footage:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "reel.mp4"
            write_video(path, synthetic_reel(320, 240, 72, scenes=3), Fraction(24000, 1001),
                        options={"crf": "18"}, timecode="01:00:00:00")
            upload = TemporaryUploadedFile("harbour-reel.mp4", "video/mp4", path.stat().st_size, None)
            with open(path, "rb") as src:
                upload.write(src.read())
            upload.seek(0)
            try:
                return footage_actions.upload_footage(project, producer, upload, name="Harbour reel", split=True)
            finally:
                upload.close()

    def _wait(self, footage: Footage, timeout: float = 120) -> None:
        if settings.JOBS_MODE == "embedded":
            jobs.drain(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            footage.refresh_from_db()
            if footage.status in (Footage.Status.READY, Footage.Status.FAILED):
                break
            time.sleep(0.5)
        if footage.status == Footage.Status.READY:
            self.stdout.write(f"Demo reel ingested: {footage.frame_count} frames, {footage.shots.count()} shots")
        else:
            self.stdout.write(self.style.WARNING(f"Demo reel is {footage.status}. {footage.error}"))
