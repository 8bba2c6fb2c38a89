"""A project's status follows its shots' (annotating, in review, approved, rendering, rendered,
outdated since the last render), on the project list and the project pages."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone

from annotations.keyframes.actions import save_hints
from annotations.models import Render
from annotations.review import actions as review
from annotations.shot_state import project_state
from tests.annotations.review_helpers import annotate, approve_all, hints

pytestmark = pytest.mark.django_db


def states(*keys):
    return [(key, key) for key in keys]


@pytest.mark.parametrize("shots, expected", [
    ((), "empty"),
    (("ready",), "annotating"),
    (("rendered", "in_review", "approved"), "in_review"),
    (("approved", "rendered"), "approved"),
    (("rendered", "rendered"), "rendered"),
    (("rendered", "outdated", "annotating"), "outdated"),
    (("rendering", "outdated", "ready"), "rendering"),
])
def test_the_project_stands_where_its_least_advanced_shot_stands(shots, expected):
    assert project_state(states(*shots))[0] == expected


def page_states(client, project) -> list[str]:
    """The project's status as the project list, the overview and the studio page show it."""
    shown = []
    for url in ("/", f"/projects/{project.pk}/", f"/studio/projects/{project.pk}/"):
        html = client.get(url).content.decode()
        found = re.findall(r'class="badge project-status ([a-z_]+)"[^>]*>([^<]+)<', html)
        assert len(found) == 1, url
        shown.append(found[0])
    assert len(set(shown)) == 1, shown
    return shown[0]


def test_the_pages_show_the_project_status_from_keyframes_and_renders(client, shot, users):
    project = shot.project
    client.force_login(users["producer"])
    assert page_states(client, project) == ("annotating", "Annotating")  # a shot, no keyframes yet

    keyframe = annotate(shot, users["annotator"], 2, hints())
    review.submit(keyframe, users["annotator"])
    assert page_states(client, project) == ("in_review", "In review")

    keyframes = approve_all(shot, users, frames=(7,)) + [keyframe]
    review.approve(keyframe, users["reviewer"], comment="ok")
    assert page_states(client, project) == ("approved", "Approved")

    frozen = [{"frame": k.frame, "content_hash": k.head.content_hash} for k in keyframes]
    render = Render.objects.create(shot=shot, requested_by=users["producer"], status=Render.Status.RUNNING,
                                   keyframes=frozen)
    assert page_states(client, project) == ("rendering", "Rendering")

    Render.objects.filter(pk=render.pk).update(status=Render.Status.DONE, finished=timezone.now(), progress=1)
    assert page_states(client, project) == ("rendered", "Rendered")

    save_hints(keyframes[0], users["annotator"], hints(color="#2040c0"))
    assert page_states(client, project) == ("outdated", "Outdated since the last render")
