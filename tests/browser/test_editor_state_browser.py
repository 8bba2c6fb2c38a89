"""The editor says what state a keyframe is in and changes it only deliberately: its review status
and the reviewer's comments are shown, editing an approved keyframe asks first and tells the
reviewer, a typed color does not recolor a point just placed, bursts of nudges are one revision,
a drag of a point someone deletes ends with a notice (not a script error), and view changes keep
the zoom.
"""
from __future__ import annotations

from tests.annotations.review_helpers import annotate, hints
from tests.browser.editor_page import click_at, open_editor, wait_settled, wait_until

from annotations.models import HintRevision, Keyframe, Notification
from annotations.review import actions as review

DIALOG_OPEN = "document.getElementById('withdraw-dialog').open"


def _head(keyframe) -> HintRevision:
    return Keyframe.objects.select_related("head").get(pk=keyframe.pk).head


def _idle(page, ms=1500):
    """The outbox is empty and stays so for `ms` (a gesture still held would be sent within it)."""
    wait_until(page, "document.getElementById('editor').dataset.pending === '0'")
    page.wait_for_timeout(ms)
    wait_until(page, "document.getElementById('editor').dataset.pending === '0'")


def test_editing_an_approved_keyframe_asks_first_and_tells_the_reviewer(login, shot, users, screenshot):
    keyframe = annotate(shot, users["annotator"], 3, hints())
    review.submit(keyframe, users["annotator"])
    review.add_comment(keyframe, users["reviewer"], "the sash is right, per the archive", 20, 15)
    review.approve(keyframe, users["reviewer"], comment="matches the regimental records")

    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    wait_until(page, "document.getElementById('review-status').textContent === 'Approved'")
    wait_until(page, "document.getElementById('review-comments').textContent.includes('the sash is right')")
    assert "matches the regimental records" in page.locator("#review-note").inner_text()
    assert "reviewer" in page.locator("#review-note").inner_text()
    page.locator("#review-panel").scroll_into_view_if_needed()
    screenshot(page, "editor-review-status")

    # A nudge of an approved keyframe: nothing is sent before the user agrees.
    page.keyboard.press("v")
    click_at(page, 20, 15)
    page.keyboard.press("ArrowRight")
    wait_until(page, DIALOG_OPEN)
    assert "withdraws the approval" in page.locator("#withdraw-text").inner_text()
    screenshot(page, "editor-withdraw-approval")
    page.click("#withdraw-dialog button[value=cancel]")
    page.wait_for_timeout(1500)
    assert _head(keyframe).number == 2
    assert Keyframe.objects.get(pk=keyframe.pk).review_status == "approved"
    assert page.evaluate("() => window.studio.state.hints.points.find(p => p.x === 20) !== undefined")

    # Agreed: the edit lands, the keyframe is a draft again and the reviewer is told.
    page.keyboard.press("ArrowRight")
    wait_until(page, DIALOG_OPEN)
    page.click("#withdraw-confirm")
    wait_settled(page, 3)
    assert Keyframe.objects.get(pk=keyframe.pk).review_status == "draft"
    wait_until(page, "document.getElementById('review-status').textContent === 'Draft'")
    notice = Notification.objects.get(recipient=users["reviewer"], verb="keyframe.withdrawn")
    assert "approval is withdrawn" in notice.message and notice.keyframe_id == keyframe.pk

    # Submitted again from the editor itself.
    _idle(page)
    page.click("#submit-review")
    wait_until(page, "document.getElementById('review-status').textContent === 'Submitted'")
    assert Keyframe.objects.get(pk=keyframe.pk).review_status == "submitted"
    assert page.errors == []


def test_a_typed_color_does_not_recolor_the_point_just_placed(login, keyframe, users):
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    page.fill("#hex", "#d02010")
    page.press("#hex", "Enter")
    click_at(page, 12, 24)
    wait_settled(page, 2)

    page.fill("#hex", "#1040d0")  # the color of the next point
    page.press("#hex", "Enter")
    _idle(page)
    head = _head(keyframe)
    assert head.number == 2 and head.content["points"][0]["color"] == "#d02010"
    assert "recolors a point only when you selected it yourself" in page.locator("#shortcuts").text_content()

    click_at(page, 12, 24)  # selected deliberately: now a typed color recolors it
    page.fill("#hex", "#20a040")
    page.press("#hex", "Enter")
    wait_settled(page, 3)
    assert _head(keyframe).content["points"][0]["color"] == "#20a040"
    assert page.errors == []


def test_a_burst_of_nudges_or_patch_steps_is_one_revision(login, keyframe, users):
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    click_at(page, 12, 24)
    wait_settled(page, 2)
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    for _ in range(3):
        page.keyboard.press("]")
    _idle(page)
    revisions = list(HintRevision.objects.filter(keyframe=keyframe).order_by("number"))
    assert [r.number for r in revisions] == [1, 2, 3, 4]
    point = revisions[-1].content["points"][0]
    assert (point["x"], point["radius"]) == (20, 6)

    page.keyboard.press("Control+z")  # one gesture, one undo step
    _idle(page)
    assert _head(keyframe).content["points"][0]["radius"] == 3
    assert page.errors == []


def test_dragging_a_point_another_editor_deletes(login, keyframe, users):
    first = login("annotator", "pw-annotator")
    second = login("manager", "pw-manager")
    open_editor(first, keyframe)
    open_editor(second, keyframe)
    click_at(first, 30, 20)
    wait_settled(first, 2)
    wait_until(second, "window.studio.state.server.revision === 2")

    first.keyboard.press("v")
    first.mouse.move(*first.evaluate("() => window.studio.toPage(30, 20)"))
    first.mouse.down()
    first.mouse.move(*first.evaluate("() => window.studio.toPage(34, 22)"))

    second.keyboard.press("v")
    click_at(second, 30, 20)
    second.keyboard.press("Delete")
    wait_until(first, "window.studio.state.server.revision === 3")

    first.mouse.move(*first.evaluate("() => window.studio.toPage(38, 24)"))
    first.mouse.up()
    first.wait_for_timeout(300)
    assert first.errors == []
    wait_until(first, "document.getElementById('notices').textContent.includes('manager deleted this point')")
    _idle(first, 500)
    assert _head(keyframe).number == 3 and _head(keyframe).content["points"] == []
    assert first.errors == [] and second.errors == []


def test_view_changes_keep_the_zoom(login, keyframe, users):
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    view = "() => { const v = window.studio.view; return [v.scale, v.ox, v.oy]; }"
    fitted = page.locator("#zoom-level").inner_text()
    page.keyboard.press("+")
    page.keyboard.press("+")
    label = page.locator("#zoom-level").inner_text()
    assert label != fitted
    zoomed = page.evaluate(view)
    same = lambda: all(abs(a - b) < 1e-6 for a, b in zip(page.evaluate(view), zoomed))  # noqa: E731
    for key in "wgo":
        page.keyboard.press(key)
        assert page.locator("#zoom-level").inner_text() == label and same(), key
    page.keyboard.press("s")  # half as wide a pane: the same zoom, the same pixel in the middle
    assert page.locator("#zoom-level").inner_text() == label
    page.keyboard.press("o")
    assert same()
    assert page.errors == []


def test_zoomed_in_the_preview_shows_full_resolution(login, project, users, upload, tmp_path):
    """The live preview is 512 px across; zoomed in on a wider frame, the editor asks for the part it
    shows at full resolution and draws it, again after each new revision."""
    from fractions import Fraction

    from annotations.demo import synthetic_reel
    from annotations.footage.actions import ingest, upload_footage
    from annotations.keyframes.actions import add_keyframe, save_hints
    from inference.media import write_video

    path = tmp_path / "wide.mp4"
    write_video(path, synthetic_reel(1024, 576, 3, scenes=1), Fraction(24), options={"crf": "18"})
    footage = upload_footage(project, users["producer"], upload(path), name="Wide", start_ingest=False)
    ingest(footage)
    keyframe = add_keyframe(footage.shots.get(), users["annotator"], 1)
    save_hints(keyframe, users["annotator"], {"points": [{"x": 500, "y": 280, "color": "#2040c0", "radius": 4}],
                                              "strokes": []})
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    wait_settled(page, 2)
    region = "document.getElementById('editor').dataset.region || ''"
    page.wait_for_timeout(800)
    assert page.evaluate(f"() => {region}") == ""  # at fit: the preview alone
    for _ in range(3):
        page.keyboard.press("+")
    wait_until(page, f"({region}).startsWith('2:')", 60)
    x, y, width, height = map(int, page.evaluate(f"() => {region}").split(":")[1].split(","))
    assert 0 < width < 1024 and 0 < height < 576 and x <= 500 < x + width and y <= 280 < y + height
    image = page.evaluate("() => { const r = window.studio.state.region; return [r.image.naturalWidth, r.image.naturalHeight]; }")
    assert image == [width, height]  # source pixels, one for one

    # A new revision: its own region, once its preview is in.
    page.keyboard.press("Escape")
    page.fill("#hex", "#c03020")
    page.press("#hex", "Enter")
    click_at(page, 520, 290)
    wait_settled(page, 3)
    wait_until(page, f"({region}).startsWith('3:')", 60)
    assert page.errors == []
