"""The render player on the render page, in real headless Chromium: a finished render played over
its stored frames with a before/after wipe against the grayscale source and against the shot's
previous render, and the quality check's flagged frames as marks on its timeline."""
from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np
from django.utils import timezone

from annotations import frames, storage
from annotations.models import Render
from annotations.render.pipeline import frame_name

RED, BLUE = (1.0, 0.3, 0.2), (0.2, 0.35, 1.0)


def finished_render(shot, user, tint, *, flagged=(), age=0) -> Render:
    """A finished render as the pipeline leaves it: every frame stored (the source's luma, tinted)
    and the quality checks' appearance report flagging `flagged`."""
    per_frame = [{"index": i, "crossing": 0.4 if i in flagged else 0.01, "blocks": 0.0, "strength": 1.0,
                  "reasons": ["crossing"] if i in flagged else []} for i in range(shot.frame_count)]
    qc = {"passed": True, "verdict": "attention" if flagged else "passed",
          "luma": {"max_diff": 0.2, "limit": 0.5, "pass": True}, "flicker": {"mean": 1, "max": 2, "limit": 8, "pass": True},
          "appearance": {"flagged": list(flagged), "per_frame": per_frame, "pass": not flagged,
                         "limits": {"crossing_max": 0.2, "blocks_max": 0.2, "strength_min": 0.3}}}
    render = Render.objects.create(shot=shot, requested_by=user, status=Render.Status.DONE, progress=1, qc=qc,
                                   finished=timezone.now(), keyframes=[{"frame": 2, "content_hash": "0" * 64}])
    Render.objects.filter(pk=render.pk).update(created=timezone.now() - timedelta(minutes=age))
    for index in range(shot.frame_count):
        gray = frames.read_proxy(shot, index).astype(np.float32)
        gray = cv2.resize(gray, (shot.width, shot.height))
        rgb = np.clip(gray[..., None] * np.array(tint) + 20, 0, 255).astype(np.uint8)
        storage.put(frame_name(render, index), frames.encode_png(rgb))
    return render


def pixel(page, player: str, share: float) -> tuple[int, int, int]:
    """RGB of the player's canvas at `share` of the frame's width, half-way down."""
    return tuple(page.evaluate("""([selector, share]) => {
        const canvas = document.querySelector(selector + " canvas");
        const x = Math.round(canvas.width * share), y = Math.round(canvas.height / 2);
        return [...canvas.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3)];
    }""", [player, share]))


def drawn(page, player: str, frame: int) -> None:
    page.wait_for_function("([selector, want]) => document.querySelector(selector).dataset.drawn === want",
                           arg=[player, f"{frame}:both"], timeout=30_000)


def test_the_player_wipes_against_the_source_and_the_previous_render_and_marks_flagged_frames(login, shot, users,
                                                                                              screenshot):
    older = finished_render(shot, users["producer"], BLUE, age=5)
    newest = finished_render(shot, users["producer"], RED, flagged=(4, 7))
    page = login("producer", "pw-producer")
    page.goto(f"/review/shots/{shot.pk}/")
    player = f"[data-player='{newest.pk}']"
    page.wait_for_selector(f"{player}[data-ready]")
    assert page.locator(f"[data-player='{older.pk}']").get_attribute("data-ready") is None  # folded, not loaded
    drawn(page, player, 0)

    # The quality check's flagged frames are marks on the timeline; one click goes there.
    marks = page.locator(f"{player} .player-mark.flagged")
    assert sorted(int(m.get_attribute("data-frame")) for m in marks.all()) == [4, 7]
    assert "crossing" in marks.first.get_attribute("title")
    marks.nth(1).dispatch_event("pointerdown")
    assert page.locator(player).get_attribute("data-frame") == "7"
    readout = page.locator(f"{player} [data-field=player-readout]").inner_text()
    left = (shot.frame_count - 8) / float(shot.footage.frame_rate)
    assert readout == f"frame 7 of {shot.frame_count} · {shot.timecode(7)} · {left:.2f} s left", readout

    # Frame by frame: the next frame is exactly one on.
    page.locator(f"{player} button[title^='Next frame']").click()
    assert page.locator(player).get_attribute("data-frame") == "8"
    drawn(page, player, 8)

    # Left of the wipe the grayscale source, right of it the render.
    r, g, b = pixel(page, player, 0.25)
    assert abs(r - g) <= 3 and abs(g - b) <= 3, (r, g, b)
    r, g, b = pixel(page, player, 0.75)
    assert r > g + 20 and r > b + 20, (r, g, b)

    # Dragging on the picture moves the wipe: at 0.8 of the width the render's side is gone from 0.75.
    box = page.locator(f"{player} canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    wipe = float(page.locator(player).get_attribute("data-wipe"))
    assert 0.85 < wipe < 0.95, wipe
    r, g, b = pixel(page, player, 0.75)
    assert abs(r - g) <= 3 and abs(g - b) <= 3, (r, g, b)

    # Against the previous render: its blue on the left of the wipe.
    page.select_option(f"{player} select.compare", "previous")
    drawn(page, player, 8)
    r, g, b = pixel(page, player, 0.25)
    assert b > r + 20, (r, g, b)
    page.locator(f"{player} input.wipe").fill("500")
    assert page.locator(player).get_attribute("data-wipe") == "0.500"
    page.select_option(f"{player} select.compare", "source")
    drawn(page, player, 8)
    screenshot(page.locator(player), "render-player")
    assert page.errors == []

    # A render whose files were removed has no player, and its frames are gone from the server too.
    Render.objects.filter(pk=older.pk).update(files_removed=timezone.now())
    assert page.request.get(f"/review/renders/{older.pk}/player.json").status == 404
    assert page.request.get(f"/review/renders/{older.pk}/frames/0.jpg").status == 404
    assert page.request.get(f"/review/renders/{newest.pk}/frames/{shot.frame_count}.jpg").status == 404
    assert page.request.get(f"/review/renders/{newest.pk}/frames/0.jpg").status == 200
