"""Render benchmark: a synthetic shot through review and render, with timings and QC figures.

    python -m tools.render_benchmark --size 320x240 --frames 48 --keyframes 0,24

Runs in a throwaway embedded installation (temporary SQLite database and media folder), calls
the render jobs one after another in this process, and prints seconds per step and the quality
checks. Engine methods follow COLORPROJ_RENDER_KEYFRAME_METHOD / _PROPAGATION_METHOD.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import django
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT (even)")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--keyframes", default="0,24", help="comma-separated frame indices")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    keys = sorted({int(k) for k in args.keyframes.split(",")})

    with tempfile.TemporaryDirectory(prefix="render-benchmark-") as folder:
        os.environ.update(COLORPROJ_VAR_DIR=folder, COLORPROJ_SQLITE=str(Path(folder) / "db.sqlite3"),
                          DJANGO_SETTINGS_MODULE="colorproj.settings")
        for name in ("DATABASE_URL", "REDIS_URL", "COLORPROJ_MEDIA_ROOT"):
            os.environ.pop(name, None)
        django.setup()
        call_command("migrate", verbosity=0)
        with transaction.atomic():  # never committed: the jobs queued on commit stay unqueued,
            status = run(width, height, args.frames, keys, Path(folder))  # this process runs them
            transaction.set_rollback(True)
        return status


def run(width: int, height: int, frame_count: int, keys: list[int], folder: Path) -> int:
    # Imported here: the studio's models load only once main() has pointed the settings at the
    # throwaway database and called django.setup().
    from annotations.permissions import allow_project_creation
    from annotations.projects import actions as projects
    from annotations.render import actions as render_actions
    from annotations.review import actions as review
    from annotations.footage.actions import ingest, upload_footage
    from annotations.keyframes.actions import add_keyframe, save_hints
    from annotations.demo import synthetic_reel
    from annotations.render import tasks
    from inference.media import write_video

    users = {role: get_user_model().objects.create_user(role) for role in ("annotator", "reviewer", "producer")}
    allow_project_creation(users["producer"])
    project = projects.create_project(users["producer"], "Benchmark")
    for role in ("annotator", "reviewer"):
        projects.add_member(project, users["producer"], users[role], role)
    clip = folder / "clip.mp4"
    write_video(clip, synthetic_reel(width, height, frame_count, scenes=1), 24, options={"crf": "16"})
    footage = upload_footage(project, users["producer"], SimpleUploadedFile("clip.mp4", clip.read_bytes()),
                             start_ingest=False)
    shot = ingest(footage).shots.get()
    hints = {"points": [{"x": width * 0.3, "y": height * 0.3, "color": "#b03020", "radius": 3},
                        {"x": width * 0.8, "y": height * 0.7, "color": "#2f8a3a", "radius": 3}], "strokes": []}
    for frame in keys:
        keyframe = add_keyframe(shot, users["annotator"], frame)
        save_hints(keyframe, users["annotator"], hints)
        review.submit(keyframe, users["annotator"])
        review.approve(keyframe, users["reviewer"])

    render = render_actions.start_render(shot, users["producer"])
    timings = {}
    started = time.perf_counter()
    tasks.prepare_render(render.pk)
    timings["keyframes"] = time.perf_counter() - started
    for stretch in render.stretches.all():
        started = time.perf_counter()
        tasks.render_stretch(render.pk, stretch.index)
        timings[f"stretch [{stretch.start}, {stretch.end})"] = time.perf_counter() - started
    started = time.perf_counter()
    tasks.finalize_render(render.pk)
    timings["join, QC, deliverables"] = time.perf_counter() - started
    render.refresh_from_db()
    if render.status != "done":
        print(f"render failed: {render.error}", file=sys.stderr)
        return 1
    print(f"shot {width}x{height}, {frame_count} frames, keyframes {keys}; "
          f"methods {render.keyframe_method}/{render.propagation_method}")
    for step, seconds in timings.items():
        print(f"  {step:28s} {seconds:7.2f} s")
    total = sum(timings.values())
    print(f"  {'total':28s} {total:7.2f} s  ({frame_count / total:.1f} frames/s)")
    qc = render.qc
    print(f"QC: luma max diff {qc['luma']['max_diff']} codes; flicker mean {qc['flicker']['mean']} "
          f"max {qc['flicker']['max']}; legal range outside mp4 {qc['legal_range']['mp4']['samples_outside']}, "
          f"prores {qc['legal_range']['prores']['samples_outside']}; passed {qc['passed']}")
    worst = sorted(((v, i + 1) for i, v in enumerate(qc["flicker"]["per_frame"]) if v is not None), reverse=True)[:3]
    print("  worst flicker: " + ", ".join(f"frame {i - 1}->{i}: {v}" for v, i in worst))
    for kind, legal in qc["legal_range"].items():
        print(f"  legal range {kind}: Y' {legal['y']} C {legal['c']} (nominal {legal['legal_y']} {legal['legal_c']}), "
              f"{legal['samples_outside']} of {legal['samples']} outside, pass {legal['pass']}")
    for deliverable in render.deliverables.all():
        print(f"  {deliverable.get_kind_display():28s} {deliverable.size_bytes:>10d} bytes  {deliverable.sha256[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
