"""The demo data the start command creates, through the normal upload and ingest path."""
import io

from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotations.models import Project, Role


def test_demo_command_is_complete_and_idempotent(background_jobs):
    out = io.StringIO()
    call_command("demo", url="http://studio.test:8000/", stdout=out)
    text = out.getvalue()
    assert "http://studio.test:8000/" in text and "colorproj-demo" in text
    assert "72 frames, 3 shots" in text
    project = Project.objects.get()
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {f"demo-{role}": role for role in Role.values}
    assert get_user_model().objects.get(username="demo-annotator").check_password("colorproj-demo")
    # Every demo account has a name, and their initials (the editor's avatars) differ.
    names = [u.get_full_name() for u in get_user_model().objects.filter(username__startswith="demo-")]
    assert all(names) and len({"".join(word[0] for word in name.split()) for name in names}) == len(Role.values)
    shots = list(project.shots.all())
    assert [s.start_timecode for s in shots] == ["01:00:00:00", "01:00:01:00", "01:00:02:00"]
    call_command("demo", stdout=io.StringIO())  # a second start changes nothing
    assert Project.objects.count() == 1 and project.footage.count() == 1
