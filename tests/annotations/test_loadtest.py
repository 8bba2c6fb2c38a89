"""`manage.py loadtest`, run for real: a daphne subprocess on the test database (the command points
it there itself), websocket annotators and a viewer, memory sampling, and the cleanup."""
import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command

from annotations.models import Footage, Project


@pytest.mark.parametrize("mode", ["embedded", pytest.param("celery", marks=pytest.mark.distributed)])
def test_loadtest_measures_annotators_viewers_and_memory(mode, transactional_db, tmp_path):
    footage_folder = Path(settings.MEDIA_ROOT) / "footage"
    stored_before = set(footage_folder.glob("*"))
    out = StringIO()
    call_command("loadtest", "--modes", mode, "--annotators", "2", "--viewers", "1", "--edits", "2",
                 "--size", "320x240", "--think-ms", "50", "--json", str(tmp_path / "load.json"),
                 "--plot", str(tmp_path / "memory.png"), stdout=out)

    report = json.loads((tmp_path / "load.json").read_text())
    [run] = report["runs"]
    assert (run["mode"], run["annotators"], run["viewers"], run["edits"]) == (mode, 2, 1, 4)
    assert len(run["raw"]["annotator_ms"]) == 4 and all(v > 0 for v in run["raw"]["annotator_ms"])
    assert run["annotator"]["p50"] <= run["annotator"]["p95"] <= run["annotator"]["p99"]
    # The viewer shares the first annotator's keyframe: its setup edit and both timed edits.
    assert len(run["raw"]["viewer_ms"]) == 3 and run["viewer"]["p99"] is not None
    assert run["previews"] > 0
    assert run["dropped"] == 0 and run["errors"] == {}
    assert run["memory"]["server"]["peak"] > 50
    if mode == "celery":
        assert run["memory"]["worker"]["peak"] > 50
    else:
        assert "worker" not in run["memory"]
    [timeline] = report["memory"]
    assert len(timeline["samples"]) > 0 and all(sample["server"] > 0 for sample in timeline["samples"])
    assert (tmp_path / "memory.png").stat().st_size > 0

    table = out.getvalue().split("p50 ms", 1)[1]
    assert mode in table
    # Nothing of the throwaway project is left.
    assert not get_user_model().objects.filter(username__startswith="loadtest-").exists()
    assert not Project.objects.exists() and not Footage.objects.exists() and not Session.objects.exists()
    assert set(footage_folder.glob("*")) == stored_before
