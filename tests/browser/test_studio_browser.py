"""The annotation studio in real headless Chromium against a real ASGI server.

Few and robust on purpose (the CPU is shared): waits are on the page's own state
(revision numbers, the preview's revision), never on fixed sleeps.
"""
from __future__ import annotations

from annotations.models import Keyframe
from tests.browser.editor_page import click_at, open_editor, preview_rgb, wait_settled, wait_until


def test_annotate_a_keyframe(login, keyframe, users, screenshot):
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    assert page.locator("#connection").inner_text() == "live"

    # A red point on the left: stored as revision 2, and the preview follows it.
    page.fill("#hex", "#d02010")
    page.press("#hex", "Enter")
    click_at(page, 12, 24)
    wait_settled(page, 2)
    r, g, b = preview_rgb(page, 12, 24)
    assert r > g + 20 and r > b + 20, (r, g, b)

    # A blue point on the right (Esc first: a color chosen while a point is selected recolors it),
    # then a boundary stroke between them.
    page.keyboard.press("Escape")
    page.fill("#hex", "#1040d0")
    page.press("#hex", "Enter")
    click_at(page, 52, 24)
    wait_settled(page, 3)
    r, g, b = preview_rgb(page, 52, 24)
    assert b > r + 20, (r, g, b)
    page.keyboard.press("b")
    start = page.evaluate("() => window.studio.toPage(32, 2)")
    end = page.evaluate("() => window.studio.toPage(32, 45)")
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(start[0] + (step % 2) * 4, start[1] + (end[1] - start[1]) * step / 10)
    page.mouse.up()
    wait_settled(page, 4)
    hints = page.evaluate("() => window.studio.state.hints")
    assert len(hints["points"]) == 2 and len(hints["strokes"]) == 1
    assert len(hints["strokes"][0]["points"]) >= 2

    stored = Keyframe.objects.get(pk=keyframe.pk).head
    assert stored.number == 4
    assert {p["color"] for p in stored.content["points"]} == {"#d02010", "#1040d0"}

    # Undo takes the stroke away again (as a new revision: history is kept).
    page.keyboard.press("Control+z")
    wait_settled(page, 5)
    assert page.evaluate("() => window.studio.state.hints.strokes.length") == 0
    assert Keyframe.objects.get(pk=keyframe.pk).head.content["strokes"] == []

    # Pick the red point and take the network's first suggested color for it.
    page.keyboard.press("v")
    click_at(page, 12, 24)
    suggestion = page.locator("#suggestions button.suggestion").first
    suggestion.wait_for(timeout=60_000)
    color = suggestion.get_attribute("data-color")
    suggestion.click()
    wait_settled(page, 6)
    point = next(p for p in Keyframe.objects.get(pk=keyframe.pk).head.content["points"] if p["x"] == 12)
    assert point["color"] == color

    # The revision history lists every revision.
    wait_until(page, "document.querySelectorAll('#history li').length >= 6")
    page.keyboard.press("s")  # split view for the picture
    page.wait_for_timeout(300)
    path = screenshot(page, "keyframe-editor")
    assert path.stat().st_size > 10_000
    assert page.errors == []


def test_second_editor_sees_hints_and_presence(login, keyframe, users, screenshot):
    users["manager"].first_name, users["manager"].last_name = "Marek", "Novak"
    users["manager"].save()
    first = login("annotator", "pw-annotator")
    second = login("manager", "pw-manager")
    open_editor(first, keyframe)
    open_editor(second, keyframe)
    wait_until(first, "document.getElementById('presence').dataset.count === '2'")
    # Each avatar shows its person's initials: from the name, or from the username without one.
    avatars = first.locator("#presence .avatar")
    assert [avatars.nth(i).inner_text() for i in range(2)] == ["AN", "MN"]
    assert "Marek Novak (manager)" in avatars.nth(1).get_attribute("title")

    first.fill("#hex", "#20a040")
    first.press("#hex", "Enter")
    click_at(first, 30, 20)
    wait_settled(first, 2)
    hint_id = first.evaluate("() => window.studio.state.hints.points[0].id")
    # It appears in the other editor, with its color, without reloading.
    wait_until(second, f"window.studio.state.hints.points.some(p => p.id === '{hint_id}' && p.color === '#20a040')")
    wait_settled(second, 2)
    # ...and so does the other editor's cursor.
    second.mouse.move(*second.evaluate("() => window.studio.toPage(40, 30)"))
    second.mouse.move(*second.evaluate("() => window.studio.toPage(41, 31)"))
    wait_until(first, "[...window.studio.state.peers.values()].some(p => p.user === 'manager' && p.cursor)")
    screenshot(second, "keyframe-editor-second-editor")
    assert first.errors == [] and second.errors == []


def test_viewer_cannot_edit(login, keyframe, users):
    page = login("reviewer", "pw-reviewer")
    open_editor(page, keyframe)
    assert "not allow editing" in page.locator("#role-note").inner_text()
    click_at(page, 30, 20)
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.studio.state.hints.points.length") == 0
    assert Keyframe.objects.get(pk=keyframe.pk).head.number == 1


def test_shot_page_adds_a_keyframe(login, shot, users, screenshot):
    page = login("annotator", "pw-annotator")
    page.goto(f"/studio/shots/{shot.pk}/")
    wait_until(page, "document.getElementById('shot-page').dataset.frame === '0'")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # +10 is clamped to the last frame
    page.keyboard.press("ArrowLeft")
    assert page.locator("#readout").inner_text() == f"frame 8 · {shot.timecode(8)}"
    page.click("#add-keyframe")
    page.wait_for_selector("#keyframe-list li[data-frame='8']")
    assert Keyframe.objects.filter(shot=shot, frame=8).exists()
    screenshot(page, "shot-page")
    page.click("#open-keyframe")
    page.wait_for_url(f"**/studio/keyframes/{Keyframe.objects.get(shot=shot, frame=8).pk}/")


def test_project_page_adds_a_reference_with_a_color_picked_from_its_image(login, project, users, tmp_path):
    import cv2
    import numpy as np

    from annotations.models import ColorReference

    swatch = np.zeros((60, 90, 3), np.uint8)
    swatch[:] = (192, 128, 64)  # BGR: #4080c0
    cv2.imwrite(str(tmp_path / "tunic.png"), swatch)
    page = login("reviewer", "pw-reviewer")
    page.goto(f"/studio/projects/{project.pk}/")
    page.fill("input[name=name]", "Tunic, 1914")
    page.fill("textarea[name=citation]", "Regimental order book, p. 3")
    page.set_input_files("#attachment", str(tmp_path / "tunic.png"))
    page.locator("#picker-canvas").click(position={"x": 30, "y": 20})
    assert page.input_value("#color-hex") == "#4080c0"
    page.click("#reference-form button[type=submit]")
    page.wait_for_selector("#reference-list li[data-reference]")
    reference = ColorReference.objects.get(project=project, name="Tunic, 1914")
    assert reference.color == "#4080c0" and reference.citation == "Regimental order book, p. 3"
    assert reference.attachments.get().content_type == "image/png"
    assert page.errors == []
