"""Studio pages and their JSON endpoints, the preview geometry and the coalescing state."""
from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from annotations import engines
from annotations.footage.actions import ingest, upload_footage
from annotations.keyframes.actions import add_keyframe, apply_hint_ops
from annotations.keyframes import previews
from annotations.keyframes.state import LocalState, preview_state
from colorproj import jobs


def page_data(response, element_id):
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


@pytest.mark.django_db
class TestPages:
    def test_anonymous_users_are_sent_to_log_in(self, client, keyframe):
        for url in (reverse("studio:project", args=[keyframe.shot.project_id]), reverse("studio:shot", args=[keyframe.shot_id]),
                    reverse("studio:keyframe", args=[keyframe.pk])):
            response = client.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"]

    def test_outsiders_get_404_everywhere(self, client, keyframe, outsider):
        client.force_login(outsider)
        for url in (reverse("studio:project", args=[keyframe.shot.project_id]), reverse("studio:shot", args=[keyframe.shot_id]),
                    reverse("studio:keyframe", args=[keyframe.pk]), reverse("studio:keyframe-frame", args=[keyframe.pk]),
                    reverse("studio:keyframe-preview", args=[keyframe.pk]),
                    reverse("studio:suggested-keyframes", args=[keyframe.shot_id])):
            assert client.get(url).status_code == 404, url

    def test_project_page_lists_shots_members_and_references(self, client, keyframe, users):
        from annotations.projects.actions import create_reference

        create_reference(keyframe.shot.project, users["reviewer"], name="Tunic, 1914", color="#7a3b2e",
                         source_kind="archive", citation="Regimental order book, p. 3")
        client.force_login(users["reviewer"])
        response = client.get(reverse("studio:project", args=[keyframe.shot.project_id]))
        html = response.content.decode()
        assert response.status_code == 200
        assert reverse("studio:shot", args=[keyframe.shot_id]) in html and "1 keyframe" in html
        assert "Tunic, 1914" in html and "Regimental order book" in html and "#7a3b2e" in html
        for name in ("annotator", "reviewer", "producer", "manager"):
            assert f"<td>{name}</td>" in html
        assert 'id="reference-form"' in html  # reviewers may manage references
        client.force_login(users["producer"])
        assert 'id="reference-form"' not in client.get(reverse("studio:project", args=[keyframe.shot.project_id])).content.decode()

    def test_the_project_page_links_to_the_studio(self, client, project, users):
        client.force_login(users["annotator"])
        html = client.get(reverse("project", args=[project.pk])).content.decode()
        assert f'href="{reverse("studio:project", args=[project.pk])}"' in html

    def test_shot_page_data(self, client, keyframe, users):
        shot = keyframe.shot
        client.force_login(users["annotator"])
        data = page_data(client.get(reverse("studio:shot", args=[shot.pk])), "shot-data")
        assert data["frameCount"] == shot.frame_count and data["rate"] == [24000, 1001]
        assert data["timecodes"] == [shot.timecode(i) for i in range(shot.frame_count)]
        assert [k["frame"] for k in data["keyframes"]] == [2] and data["canEdit"] is True
        client.force_login(users["reviewer"])
        response = client.get(reverse("studio:shot", args=[shot.pk]))
        assert page_data(response, "shot-data")["canEdit"] is False
        assert 'id="add-keyframe"' not in response.content.decode()

    def test_keyframe_page_and_full_resolution_frame(self, client, keyframe, users):
        client.force_login(users["reviewer"])
        data = page_data(client.get(reverse("studio:keyframe", args=[keyframe.pk])), "keyframe-data")
        assert data["socketPath"] == f"/ws/keyframes/{keyframe.pk}/" and data["canEdit"] is False
        response = client.get(data["frameUrl"])
        assert response["Content-Type"] == "image/png"
        image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
        assert image.shape == (keyframe.shot.height, keyframe.shot.width)

    def test_suggested_keyframes_hold_every_frame_with_one_in_each_scene(self, client, project, users, clips, upload):
        footage = upload_footage(project, users["producer"], upload(clips("two_scenes")), start_ingest=False)
        ingest(footage)
        shot = footage.shots.get()
        client.force_login(users["annotator"])
        url = reverse("studio:suggested-keyframes", args=[shot.pk])
        plan = client.get(url).json()
        suggested = [s["frame"] for s in plan["suggestions"]]
        assert plan["level"] == 0.5 and any(f < 8 for f in suggested) and any(f >= 8 for f in suggested)
        assert min(plan["planned"]) >= 0.5 and plan["confidence"] == [0.0] * shot.frame_count  # no keyframes yet
        assert plan["rendered"] is None
        add_keyframe(shot, users["annotator"], suggested[0])
        plan = client.get(url, {"level": "0.5"}).json()
        assert plan["confidence"][suggested[0]] == 1.0 and suggested[0] not in [s["frame"] for s in plan["suggestions"]]
        assert client.get(url, {"level": "1.5"}).status_code == 400
        assert client.get(url, {"level": "much"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_an_edit_through_the_rest_api_gets_a_preview(client, keyframe, users, background_jobs):
    """The edit action asks for the preview, so an API client's edit reaches the editors' previews too."""
    client.force_login(users["annotator"])
    edited = client.post(reverse("api:keyframe-hint-ops", args=[keyframe.pk]), {"ops": [{"op": "add_point", "point": {
        "x": 5, "y": 5, "color": "#20c040", "radius": 2}}]}, content_type="application/json")
    assert edited.status_code == 200 and edited.json()["revision"] == 2
    url = reverse("studio:keyframe-preview", args=[keyframe.pk])
    deadline = time.monotonic() + 60
    while (response := client.get(url)).status_code == 404 and time.monotonic() < deadline:
        jobs.drain(0.2)  # embedded mode; the Celery worker needs no help
        time.sleep(0.1)
    assert response.status_code == 200 and response["X-Revision"] == "2"


@pytest.mark.django_db(transaction=True)
def test_preview_jpeg_endpoint(client, keyframe, users, background_jobs):
    url = reverse("studio:keyframe-preview", args=[keyframe.pk])
    client.force_login(users["reviewer"])
    assert client.get(url).status_code == 404  # nothing computed yet
    revision = apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": {
        "x": 5, "y": 5, "color": "#20c040", "radius": 2}}])
    previews.request_preview(keyframe.pk, revision.number)
    deadline = time.monotonic() + 60
    while (response := client.get(url)).status_code == 404 and time.monotonic() < deadline:
        jobs.drain(0.2)  # embedded mode; the Celery worker needs no help
        time.sleep(0.1)
    assert response.status_code == 200 and response["X-Revision"] == "2"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (keyframe.shot.height, keyframe.shot.width)
    preview_state().forget(keyframe.pk)


def test_preview_geometry_scales_hints():
    assert engines.preview_size(1920, 1080) == (512, 288, 512 / 1920)
    assert engines.preview_size(320, 240) == (320, 240, 1.0)  # never upscaled
    scale = 512 / 1920
    hints = engines.scaled_hints({"points": [{"id": "a", "x": 1919, "y": 1079, "color": "#ff0000", "radius": 8}],
                                   "strokes": [{"id": "s", "points": [[0, 0], [960, 540]], "width": 2}]},
                                  scale, 512, 288)
    point, stroke = hints.points[0], hints.strokes[0]
    assert (point.x, point.y) == (511, 287) and point.radius == 2 and point.id == "a"
    assert stroke.points[1] == (256.0, 144.0) and stroke.width == 1.0


def test_state_release_race():
    """An edit that arrives while a job is giving up its lease is not lost; stale leases do nothing."""
    state = LocalState()
    state.want(1, 2)
    token = state.claim(1)           # job A renders revision 2
    assert token
    state.want(1, 3)                 # an edit arrives meanwhile: the lease is taken, so no new job
    assert state.claim(1) is None
    state.finish(1, 2, b"jpeg", {})
    assert state.wanted(1) > state.done(1)  # job A sees revision 3 is wanted before releasing
    state.release(1, "someone-else")  # only the holder can release
    assert state.claim(1) is None and state.renew(1, token)
    state.release(1, token)
    assert not state.renew(1, token)
    assert state.claim(1)
    assert state.want(1, 2) == 3     # wanted never goes back


@pytest.mark.distributed
def test_redis_state_is_shared_and_atomic(settings):
    from annotations.keyframes.state import RedisState

    one = RedisState(settings.REDIS_URL, "test-studio-state")
    other = RedisState(settings.REDIS_URL, "test-studio-state")
    one.forget(7)
    assert one.want(7, 4) == 4 and other.want(7, 2) == 4
    token = one.claim(7)
    assert token and other.claim(7) is None
    other.release(7, "not-the-holder")
    assert other.claim(7) is None and one.renew(7, token) and not other.renew(7, "not-the-holder")
    other.finish(7, 4, b"\xff\xd8jpeg", {"method": "cnn"})
    assert one.latest(7) == (4, b"\xff\xd8jpeg", {"method": "cnn"}) and one.done(7) == 4
    one.forget(7)
    assert other.latest(7) is None and other.claim(7)
    other.forget(7)


@pytest.mark.django_db
def test_shot_page_wipes_to_the_finished_render(client, shot, users):
    from annotations.models import Render
    from annotations.frames import encode_png
    from annotations.render.pipeline import frame_name
    from annotations.storage import put

    client.force_login(users["reviewer"])
    assert page_data(client.get(reverse("studio:shot", args=[shot.pk])), "shot-data")["renderUrl"] is None
    assert client.get(reverse("studio:rendered-frame", args=[shot.pk, 3])).status_code == 404
    render = Render.objects.create(shot=shot, status="done")  # as the render pipeline leaves it
    master = np.zeros((shot.height, shot.width, 3), np.uint16)
    master[..., 0] = 50000  # a red 16-bit master frame
    put(frame_name(render, 3), encode_png(master))
    url = page_data(client.get(reverse("studio:shot", args=[shot.pk])), "shot-data")["renderUrl"]
    response = client.get(url.replace("{frame}", "3"))
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert response["Content-Type"] == "image/jpeg" and image.shape[:2] == (shot.height, shot.width)
    assert abs(int(image[..., 0].mean()) - 50000 // 257) < 6 and image[..., 2].mean() < 10
    assert client.get(url.replace("{frame}", "4")).status_code == 404  # not rendered (yet)
    # Once its files are removed to free space, the shot page no longer offers the wipe.
    Render.objects.filter(pk=render.pk).update(files_removed=timezone.now())
    assert page_data(client.get(reverse("studio:shot", args=[shot.pk])), "shot-data")["renderUrl"] is None
