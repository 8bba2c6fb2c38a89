"""The REST API end to end: upload and background ingest, keyframes, hints, references, schema."""
import io

import pytest
from django.test import override_settings
from django.urls import reverse

from annotations.models import Footage

pytestmark = pytest.mark.django_db


def test_upload_and_background_ingest(users, project, clips, client_for, background_jobs):
    """Upload through the API; the ingest runs as a batch job (worker thread or Celery worker)."""
    client = client_for(users["producer"])
    with open(clips("two_scenes"), "rb") as handle:
        response = client.post(reverse("api:project-footage", args=[project.pk]),
                               {"file": handle, "name": "Reel 1", "split": "true"}, format="multipart")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    footage = background_jobs.wait_footage(Footage.objects.get(pk=response.json()["id"]))
    assert footage.status == "ready", footage.error
    data = client.get(reverse("api:footage-detail", args=[footage.pk])).json()
    assert data["progress"] == 1.0 and data["cuts"] == [8] and len(data["shots"]) == 2
    shots = client.get(reverse("api:project-shots", args=[project.pk])).json()
    assert [(s["first_frame"], s["frame_count"], s["frame_rate"]) for s in shots] == [(0, 8, "24000/1001"),
                                                                                   (8, 8, "24000/1001")]
    assert shots[1]["start_timecode"] == "00:00:00:08" and shots[1]["status"] == "ready"
    frame = client.get(shots[1]["urls"]["frame"].replace("{frame}", "7"))
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    assert b"".join(frame.streaming_content)[:3] == b"\xff\xd8\xff"
    assert client.get(shots[1]["urls"]["frame"].replace("{frame}", "8")).status_code == 404
    assert client.get(shots[0]["urls"]["filmstrip"]).status_code == 200


def test_upload_rejects_non_video_with_clear_message(users, project, client_for):
    client = client_for(users["producer"])
    fake = io.BytesIO(b"%PDF-1.4 not a film")
    fake.name = "reel.mov"
    response = client.post(reverse("api:project-footage", args=[project.pk]), {"file": fake}, format="multipart")
    assert response.status_code == 400
    assert "not a video file or an image-sequence zip" in response.json()["detail"]
    assert not Footage.objects.exists()
    missing = client.post(reverse("api:project-footage", args=[project.pk]), {}, format="multipart")
    assert missing.status_code == 400 and "no file" in missing.json()["detail"]


def test_upload_over_the_limit_is_refused(users, project, clips, client_for):
    client = client_for(users["producer"])
    with override_settings(COLORPROJ_MAX_UPLOAD_BYTES=1000), open(clips("h264"), "rb") as handle:
        response = client.post(reverse("api:project-footage", args=[project.pk]), {"file": handle}, format="multipart")
    assert response.status_code == 413
    assert "larger than the limit of 1000 bytes" in response.json()["detail"]
    # A request whose declared length is already over the limit is refused without parsing it.
    big = io.BytesIO(b"\0" * 300_000)
    big.name = "big.mov"
    with override_settings(COLORPROJ_MAX_UPLOAD_BYTES=1000):
        response = client.post(reverse("api:project-footage", args=[project.pk]), {"file": big}, format="multipart")
    assert response.status_code == 413
    assert not Footage.objects.exists()


def test_keyframes_and_hints_over_the_api(users, shot, client_for):
    client = client_for(users["annotator"])
    created = client.post(reverse("api:shot-keyframes", args=[shot.pk]), {"frame": 4}, format="json")
    assert created.status_code == 201
    keyframe = created.json()
    assert keyframe["revision"] == 1 and keyframe["timecode"] == "00:00:00:04"
    ops_url = reverse("api:keyframe-hint-ops", args=[keyframe["id"]])
    edited = client.post(ops_url, {"ops": [{"op": "add_point", "point": {"x": 5, "y": 6, "color": "#102030"}}],
                                   "message": "sky"}, format="json")
    assert edited.status_code == 200 and edited.json()["revision"] == 2
    bad = client.post(ops_url, {"ops": [{"op": "add_point", "point": {"x": 500, "y": 6, "color": "#102030"}}]},
                      format="json")
    assert bad.status_code == 400 and "outside the 64x48 image" in bad.json()["detail"]
    hints_url = reverse("api:keyframe-hints", args=[keyframe["id"]])
    stale = client.put(hints_url, {"hints": {"points": [], "strokes": []}, "base_revision": 1}, format="json")
    assert stale.status_code == 409
    saved = client.put(hints_url, {"hints": {"points": [], "strokes": [{"points": [[0, 0], [10, 10]]}]},
                                   "base_revision": 2}, format="json")
    assert saved.status_code == 200 and saved.json()["revision"] == 3
    history = client.get(reverse("api:revision-list", args=[keyframe["id"]])).json()
    assert [(r["number"], r["author"]) for r in history] == [(1, "annotator"), (2, "annotator"), (3, "annotator")]
    second = client.get(reverse("api:revision-detail", args=[keyframe["id"], 2])).json()
    assert second["content"]["points"][0]["color"] == "#102030" and second["message"] == "sky"
    assert client.get(reverse("api:revision-detail", args=[keyframe["id"], 9])).status_code == 404
    assert client.delete(reverse("api:keyframe-detail", args=[keyframe["id"]])).status_code == 204


def test_color_references(users, project, keyframe, client_for):
    client = client_for(users["reviewer"])
    url = reverse("api:project-references", args=[project.pk])
    bad = client.post(url, {"name": "Tunic", "color": "scarlet"}, format="json")
    assert bad.status_code == 400
    created = client.post(url, {"name": "Regiment tunic, 1914", "color": "#8A2A1E", "source_kind": "archive",
                                "citation": "Imperial War Museum, UNI 1234"}, format="json")
    assert created.status_code == 201 and created.json()["color"] == "#8a2a1e"
    ref = created.json()["id"]
    png = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    png.name = "swatch.png"
    attached = client.post(reverse("api:reference-attachments", args=[ref]), {"file": png}, format="multipart")
    assert attached.status_code == 201 and attached.json()["content_type"] == "image/png"
    script = io.BytesIO(b"#!/bin/sh\nrm -rf /")
    script.name = "photo.png"
    refused = client.post(reverse("api:reference-attachments", args=[ref]), {"file": script}, format="multipart")
    assert refused.status_code == 400
    # A hint citing the reference keeps it from being deleted.
    annotator = client_for(users["annotator"])
    annotator.post(reverse("api:keyframe-hint-ops", args=[keyframe.pk]),
                   {"ops": [{"op": "add_point", "point": {"x": 1, "y": 1, "color": "#8a2a1e", "reference": ref}}]},
                   format="json")
    assert client.delete(reverse("api:reference-detail", args=[ref])).status_code == 409
    assert client.patch(reverse("api:reference-detail", args=[ref]), {"notes": "faded"}, format="json").status_code == 200
    audit = client.get(reverse("api:audit-list", args=[project.pk])).json()["results"]
    assert {"reference.created", "reference.attachment_added", "reference.updated"} <= {e["verb"] for e in audit}


def test_audit_trail_pages_back_by_cursor(users, project, client_for, monkeypatch):
    from annotations.projects.api import AuditPages

    monkeypatch.setattr(AuditPages, "page_size", 2)
    client = client_for(users["manager"])
    first = client.get(reverse("api:audit-list", args=[project.pk])).json()
    second = client.get(first["next"]).json()
    # Newest first: the project's creation and its three members, two a page, nothing seen twice.
    verbs = [e["verb"] for e in first["results"] + second["results"]]
    assert verbs == ["member.added", "member.added", "member.added", "project.created"]
    assert second["next"] is None and second["previous"]


def test_token_auth_for_scripts(users, project, client):
    users["annotator"].set_password("s3cret-pass")
    users["annotator"].save()
    token = client.post(reverse("api:token"), {"username": "annotator", "password": "s3cret-pass"}).json()["token"]
    response = client.get(reverse("api:project-list"), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and response.json()[0]["role"] == "annotator"


def test_schema_and_docs_are_served(client, users):
    schema = client.get(reverse("api-schema"), {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/keyframes/{id}/hints/ops/" in paths and "/api/projects/{id}/footage/" in paths
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_login_and_logout_pages(client, users):
    users["producer"].set_password("pw-producer-1")
    users["producer"].save()
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "producer", "password": "pw-producer-1"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302
