"""The database goes away for a few seconds in the middle of a job; the job finishes once it is
back, exactly once.

The worker reaches PostgreSQL through a TCP proxy that the test cuts: every connection drops and
new ones are refused, as in a database restart or a network partition.
"""
import time
import uuid

import pytest
from django.db import connection
from tests.conftest import CLIP_FRAMES
from tests.faults.outcomes import ingest_outcome
from tests.processes import TcpProxy, database_env, start_worker, stop, wait_until

from annotations.footage.actions import upload_footage
from annotations.models import Footage

pytestmark = pytest.mark.distributed


def test_an_ingest_finishes_after_a_database_outage(transactional_db, project, users, clips, upload, settings,
                                                    tmp_path):
    settings.COLORPROJ_INGEST_QUEUE = queue = f"ingest-test-{uuid.uuid4().hex[:8]}"
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    log = tmp_path / "worker.log"
    worker = start_worker(queue, log, slow=True,
                          env={"SLOW_INGEST_SECONDS": "0.4", **database_env(proxy.port)})
    try:
        footage = upload_footage(project, users["producer"], upload(clips("h264"), "reel.mp4"), name="Reel")
        wait_until(lambda: Footage.objects.get(pk=footage.pk).progress >= 0.2, 60, "ingest to be under way")
        proxy.cut()
        time.sleep(4)
        assert ingest_outcome(footage)["status"] == Footage.Status.INGESTING  # not failed: waiting
        proxy.restore()

        wait_until(lambda: Footage.objects.get(pk=footage.pk).status != Footage.Status.INGESTING, 120, "the ingest")
        assert ingest_outcome(footage) == {"status": Footage.Status.READY, "shots": [(0, CLIP_FRAMES)],
                                           "proxies": CLIP_FRAMES, "audit": ["footage.ingested", "footage.uploaded"]}
        assert "retry" in log.read_text().lower()  # it did meet the outage
    finally:
        stop(worker)
        proxy.close()
