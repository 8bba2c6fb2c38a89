"""The review pages in real headless Chromium against a real ASGI server: a reviewer comments on a
point of the frame and approves; a producer sees the render with its quality checks, downloads, and
removes its files to free space.
"""
from __future__ import annotations

from annotations import storage
from annotations.projects import actions as references
from annotations.review import actions as review
from annotations.render.actions import start_render
from annotations.models import Keyframe, ReviewComment
from tests.annotations.review_helpers import annotate, approve_all, hints, wait_render

LOADED = "() => { const i = document.querySelector('img.preview'); return i.complete && i.naturalWidth > 0; }"


def test_reviewer_comments_on_a_point_and_approves(login, shot, users, screenshot):
    tunic = references.create_reference(shot.project, users["annotator"], name="Tunic, 1914", color="#b03020",
                                        source_kind="archive", citation="Regimental archive, box 12")
    keyframe = annotate(shot, users["annotator"], 3, hints(reference=tunic.pk))
    review.submit(keyframe, users["annotator"])

    page = login("reviewer", "pw-reviewer")
    page.goto(f"/review/keyframes/{keyframe.pk}/")
    page.wait_for_function(LOADED, timeout=60_000)  # the colorized preview
    assert "Regimental archive, box 12" in page.locator("section", has_text="Sources").inner_text()
    assert "Submitted" in page.locator("#status").inner_text()

    # Click a point of the frame, then comment on it.
    box = page.locator("#frame").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5)
    assert "at (48, 24)" in page.locator("#pin").inner_text()
    page.fill("#comment-form textarea[name=text]", "the sash should be darker here")
    with page.expect_navigation():
        page.click("#comment-form button")
    comment = ReviewComment.objects.get(keyframe=keyframe)
    assert (round(comment.x), round(comment.y)) == (48, 24)
    assert "the sash should be darker here" in page.locator("#comments").inner_text()

    page.fill("#approve-form textarea[name=comment]", "matches the archive")
    with page.expect_navigation():
        page.click("#approve-form button")
    page.wait_for_function(LOADED, timeout=60_000)
    assert "Approved" in page.locator("#status").inner_text()
    keyframe.refresh_from_db()
    assert keyframe.review_status == Keyframe.ReviewStatus.APPROVED
    screenshot(page, "review-keyframe")
    assert page.errors == []


def test_producer_sees_the_render_and_its_quality_checks(login, shot, users, screenshot, background_jobs):
    approve_all(shot, users)
    render = wait_render(start_render(shot, users["producer"]), worker=background_jobs.worker)
    assert render.status == "done", render.error

    page = login("producer", "pw-producer")
    page.goto(f"/review/shots/{shot.pk}/")
    box = page.locator(f"[data-render='{render.pk}']")
    assert "Done" in box.inner_text() and "Luma vs source" in box.inner_text()
    assert "Propagation confidence" in box.inner_text() and box.locator("img[alt='propagation confidence maps']").count() == 1
    page.wait_for_function(f"() => [...document.querySelectorAll('[data-render=\"{render.pk}\"] img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
    assert page.locator("#render-form").count() == 1  # every keyframe approved: a new render may start
    # The player shows the render's own frames beside the source, with the check's flagged frames.
    player = page.locator(f"[data-player='{render.pk}']")
    page.wait_for_function("s => document.querySelector(s).dataset.drawn === '0:both'",
                           arg=f"[data-player='{render.pk}']", timeout=30_000)
    assert player.locator(".player-mark.flagged").count() == len(render.qc["appearance"]["flagged"])
    links = [a.get_attribute("href") for a in box.locator("a").all()]
    assert f"/api/renders/{render.pk}/deliverables/prores/" in links
    response = page.request.get(f"/api/renders/{render.pk}/deliverables/png/", headers={"Range": "bytes=0-3"})
    assert response.status == 206 and response.body() == b"PK\x03\x04"
    screenshot(page, "review-render")

    # Freeing the space: the page asks first, then the files go and the record stays.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        box.locator("[data-remove-files]").click()
    page.wait_for_selector(f"[data-render='{render.pk}'] [data-field=files-removed]")
    assert f"/api/renders/{render.pk}/deliverables/prores/" not in [a.get_attribute("href") for a in box.locator("a").all()]
    assert "manifest" in box.inner_text() and storage.stored_files(render.storage_dir) == []
    assert page.errors == []

    page = login("annotator", "pw-annotator")
    page.goto(f"/review/shots/{shot.pk}/")
    assert page.locator("#render-form").count() == 0
    assert f"/api/renders/{render.pk}/deliverables/prores/" not in page.content()


def test_a_render_started_from_the_page_shows_live_progress(login, shot, users, background_jobs):
    # background_jobs: the worker is idle before the tables are flushed (its last jobs of this
    # render could still hold them: a TRUNCATE deadlock in the distributed mode).
    from annotations.models import Render

    approve_all(shot, users)
    page = login("producer", "pw-producer")
    page.goto(f"/review/shots/{shot.pk}/")
    page.fill("#render-form input[name=sequence_start]", "1")
    with page.expect_navigation():
        page.click("#render-form button")
    render = Render.objects.get(shot=shot)
    assert render.sequence_start == 1 and render.requested_by == users["producer"]
    # No reload by the test: the page follows the render over the websocket until it is done.
    status = f"[data-render='{render.pk}'] [data-field=status]"
    page.wait_for_function(f"() => document.querySelector(\"{status}\").textContent.trim() === 'Done'",
                           timeout=180_000)
    render.refresh_from_db()
    assert render.status == "done", render.error
    assert page.errors == []


def test_shot_status_follows_the_keyframes_and_the_render_page_tells_real_states(login, shot, users, screenshot):
    from datetime import timedelta

    from django.utils import timezone

    from annotations.keyframes.actions import save_hints
    from annotations.models import Render, RenderStretch

    keyframes = approve_all(shot, users)
    page = login("producer", "pw-producer")
    page.goto(f"/review/shots/{shot.pk}/")
    assert page.locator("#shot-state").inner_text() == "Approved"

    # A render under way (rows as its jobs leave them): a stretch done, one running, one not started.
    n = shot.frame_count
    cuts = [0, n // 3, 2 * n // 3, n]
    render = Render.objects.create(shot=shot, requested_by=users["producer"], status=Render.Status.RUNNING,
                                   started=timezone.now() - timedelta(seconds=30),
                                   keyframes=[{"frame": k.frame, "content_hash": k.head.content_hash} for k in keyframes])
    for index, (start, end, status, done) in enumerate([(cuts[0], cuts[1], "done", 0), (cuts[1], cuts[2], "running", 2),
                                                        (cuts[2], cuts[3], "pending", 0)]):
        RenderStretch.objects.create(render=render, index=index, start=start, end=end, status=status,
                                     frames_done=done, attempts=1 if status != "pending" else 0)
    page.goto(f"/review/shots/{shot.pk}/")
    box = page.locator(f"[data-render='{render.pk}']")
    assert page.locator("#shot-state").inner_text() == "Rendering"
    stretches = box.locator("[data-field=stretches]").inner_text()
    assert "pending" not in stretches
    assert f"running, 2/{cuts[2] - cuts[1]} frames" in stretches and "waiting for a worker" in stretches
    assert f"{cuts[1] + 2} of {n} frames propagated" in box.inner_text() and "s left" in box.inner_text()
    screenshot(page, "review-render-progress")
    progress = page.request.get(f"/review/renders/{render.pk}/progress.json").json()
    assert progress["frames_done"] == cuts[1] + 2 and [s["state"] for s in progress["stretches"]] == \
        ["done", "running", "waiting"]

    # Finished, with the review copy outside legal range: the page's verdict is the check's verdict.
    limits = {"legal_y": [64, 940], "legal_c": [64, 960], "y": [64, 940], "c": [64, 960], "samples": 100}
    qc = {"passed": True, "luma": {"max_diff": 1, "limit": 2, "pass": True},
          "flicker": {"mean": 0.1, "max": 0.2, "limit": 3, "pass": True},
          "legal_range": {"mp4": {**limits, "bits": 8, "samples_outside": 7, "pass": False, "decides": False},
                          "prores": {**limits, "bits": 10, "samples_outside": 0, "pass": True, "decides": True}}}
    RenderStretch.objects.filter(render=render).update(status="done")
    Render.objects.filter(pk=render.pk).update(status=Render.Status.DONE, finished=timezone.now(), progress=1, qc=qc)
    page.goto(f"/review/shots/{shot.pk}/")
    assert page.locator("#shot-state").inner_text() == "Rendered"
    assert "Quality checks: passed" in box.inner_text() and "FAIL" not in box.inner_text()
    assert "outside" in box.locator("[data-informative]").inner_text()

    save_hints(keyframes[0], users["annotator"], hints(color="#2040c0"))
    page.goto(f"/review/shots/{shot.pk}/")
    assert page.locator("#shot-state").inner_text() == "Outdated since the last render"
    assert page.errors == []


def test_every_page_shows_the_unread_count_and_a_favicon(login, shot, users):
    approve_all(shot, users, frames=(2,))  # the annotator is told of the approval
    page = login("annotator", "pw-annotator")
    for path in (f"/studio/projects/{shot.project_id}/", f"/studio/shots/{shot.pk}/", "/"):
        page.goto(path)
        badge = page.locator("[data-unread-url] .badge")
        badge.wait_for()
        assert badge.inner_text() == "1", path
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).status == 200
    assert page.errors == []
