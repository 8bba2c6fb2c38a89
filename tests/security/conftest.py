"""Fixtures of the security tests.

    world      two projects filled with one of everything (footage, shot, keyframe with hints and
               revisions, references with an attachment, review comment, notifications, a finished
               render with its pictures and deliverables). `mine` has a member per role; `other`
               belongs to `other_manager` only, and every text in it carries MARKER, so a response
               that shows any of it to someone outside is caught by looking for the marker.
               Each keyframe has a finished preview (forgotten afterwards).
    png_bytes  a tiny real PNG
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

MARKER = "ZZLEAKZZ"


def png_bytes(size=(8, 8)) -> bytes:
    ok, data = cv2.imencode(".png", np.full((size[1], size[0], 3), 128, np.uint8))
    assert ok
    return data.tobytes()


@dataclass
class Side:
    """The ids of one project's objects, as URL arguments."""

    project: object
    ids: dict = field(default_factory=dict)


@dataclass
class World:
    users: dict
    outsider: object
    other_manager: object
    mine: Side
    other: Side


def _fill(project, people: dict, upload, clip, label: str) -> Side:
    """One of everything in `project`; `people` maps role -> user (who acts in that role)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from annotations.projects import actions as references
    from annotations.review import actions as review
    from annotations.footage.actions import ingest, upload_footage
    from annotations.keyframes.actions import add_keyframe, save_hints
    from annotations.models import Deliverable, Render

    footage = upload_footage(project, people["producer"], upload(clip, "tiny.mp4"), name=f"Footage {label}",
                             start_ingest=False)
    ingest(footage)
    assert footage.status == "ready", footage.error
    shot = footage.shots.get()
    shot.name = f"Shot {label}"
    shot.save(update_fields=["name"])
    cited = references.create_reference(project, people["manager"], name=f"Tunic {label}", color="#8a2a1e",
                                        source_kind="archive", citation=f"Archive {label}")
    spare = references.create_reference(project, people["manager"], name=f"Spare {label}", color="#203040",
                                        source_kind="archive", citation=f"Spare {label}")
    attachment = references.add_attachment(
        cited, people["manager"], SimpleUploadedFile(f"scan-{label}.png", png_bytes(), content_type="image/png"))
    keyframe = add_keyframe(shot, people["annotator"], 2)
    save_hints(keyframe, people["annotator"],
               {"points": [{"x": 10, "y": 10, "color": "#8a2a1e", "radius": 3, "reference": cited.pk}],
                "strokes": [{"points": [[0, 5], [30, 5]], "width": 2}]}, message=f"hints {label}")
    review.submit(keyframe, people["annotator"], f"please check {label}")
    review.add_comment(keyframe, people["manager"], f"comment {label}", 5, 5)
    spare_keyframe = add_keyframe(shot, people["annotator"], 6)  # a draft (deletable, submittable)

    render = Render.objects.create(shot=shot, requested_by=people["producer"], status=Render.Status.DONE,
                                   progress=1.0, finished=timezone.now(), keyframes=[])
    from annotations.render import pipeline

    for picture in pipeline.PICTURES:
        default_storage.save(pipeline.picture_name(render, picture), ContentFile(png_bytes()))
    default_storage.save(pipeline.frame_name(render, 0), ContentFile(png_bytes((64, 48))))
    data = f"deliverable {label}".encode()
    name = default_storage.save(f"{render.storage_dir}/tiny.mp4", ContentFile(data))
    Deliverable.objects.create(render=render, kind="mp4", file=name, filename=f"tiny-{label}.mp4",
                               content_type="video/mp4", size_bytes=len(data),
                               sha256=hashlib.sha256(data).hexdigest(), manifest={"label": label})
    member = project.memberships.get(user=people["annotator"])
    return Side(project, {
        "project": project.pk, "footage": footage.pk, "shot": shot.pk, "keyframe": keyframe.pk,
        "draft_keyframe": spare_keyframe.pk, "reference": cited.pk, "spare_reference": spare.pk,
        "attachment": attachment.pk, "render": render.pk, "member": member.pk,
        "notification": list(project.notifications.values_list("pk", flat=True)),
    })


@pytest.fixture
def world(project, users, outsider, django_user_model, upload, clips) -> World:
    from annotations.projects import actions as projects
    from annotations.models import Role
    from annotations.permissions import allow_project_creation

    other_manager = django_user_model.objects.create_user(f"boss-{MARKER}", password="pw-other")
    # The other project's people: its manager, and stand-ins for the other roles.
    other_people = {Role.MANAGER: other_manager}
    allow_project_creation(other_manager)
    other = projects.create_project(other_manager, f"Project {MARKER}", f"about {MARKER}")
    for role in (Role.ANNOTATOR, Role.REVIEWER, Role.PRODUCER):
        person = django_user_model.objects.create_user(f"{role}-{MARKER}", password="pw-other")
        projects.add_member(other, other_manager, person, role)
        other_people[role] = person
    mine = _fill(project, users, upload, clips("h264"), "mine")
    theirs = _fill(other, other_people, upload, clips("h264"), MARKER)
    # A finished preview of each keyframe (as a preview worker leaves it), forgotten afterwards.
    from annotations.keyframes.state import preview_state

    state = preview_state()
    keyframes = [mine.ids["keyframe"], theirs.ids["keyframe"]]
    for keyframe_id in keyframes:
        state.finish(keyframe_id, 2, cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes(), {})
    yield World(users=users, outsider=outsider, other_manager=other_manager, mine=mine, other=theirs)
    for keyframe_id in keyframes:
        state.forget(keyframe_id)
