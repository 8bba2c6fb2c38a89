"""The distributed mode for real: PostgreSQL, Redis, and a Celery worker in another process."""
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from annotations.models import Footage

pytestmark = [pytest.mark.distributed, pytest.mark.django_db(transaction=True)]


def test_runs_on_real_services(celery_worker):
    assert connection.vendor == "postgresql"
    assert settings.JOBS_MODE == "celery"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert celery_worker is not None and celery_worker.poll() is None


def test_ingest_runs_on_the_celery_worker(users, project, clips, client_for, background_jobs):
    from colorproj import jobs

    client = client_for(users["producer"])
    with open(clips("prores"), "rb") as handle:
        response = client.post(reverse("api:project-footage", args=[project.pk]), {"file": handle}, format="multipart")
    assert response.status_code == 202
    footage = background_jobs.wait_footage(Footage.objects.get(pk=response.json()["id"]))
    assert footage.status == "ready", footage.error
    assert footage.shots.get().start_timecode == "01:00:00:00"
    assert not jobs._pools  # nothing ran in this process: the worker did it


def test_failed_ingest_on_the_worker_leaves_no_shot(users, project, client_for, background_jobs):
    import io
    import zipfile

    import cv2
    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("f1.png", cv2.imencode(".png", np.zeros((48, 64), np.uint8))[1].tobytes())
        archive.writestr("f2.png", b"\x89PNG\r\n\x1a\n broken")
    buffer.seek(0)
    buffer.name = "scan.zip"
    client = client_for(users["producer"])
    response = client.post(reverse("api:project-footage", args=[project.pk]), {"file": buffer}, format="multipart")
    assert response.status_code == 202
    footage = background_jobs.wait_footage(Footage.objects.get(pk=response.json()["id"]))
    assert footage.status == "failed" and "could not be decoded" in footage.error
    assert not footage.shots.exists()


def test_row_lock_serialises_concurrent_edits_on_postgresql(keyframe, users):
    from django.db import connections

    from annotations.keyframes.actions import apply_hint_ops

    def editor(n):
        try:
            for k in range(4):
                apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": {
                    "x": n, "y": k, "color": "#203040", "id": f"e{n}-{k}"}}])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keyframe.refresh_from_db()
    assert len(keyframe.hints["points"]) == 24 and keyframe.head.number == 25
