"""Where to click next, in real headless Chromium: the uncertainty overlay comes with every
network preview, and "next point" marks a place without hints and places a point there."""
from __future__ import annotations

from annotations.models import Keyframe
from tests.browser.editor_page import click_at, open_editor, wait_settled, wait_until

GUIDED = "() => +(document.getElementById('editor').dataset.guidanceRevision || 0)"
# The stage canvas's pixel under source pixel (x, y), as drawn now.
CANVAS_RGB = """([x, y]) => {
    const canvas = document.getElementById('stage'), rect = canvas.getBoundingClientRect();
    const [px, py] = window.studio.toPage(x, y), dpr = window.devicePixelRatio || 1;
    const data = canvas.getContext('2d').getImageData(Math.round((px - rect.left) * dpr),
                                                      Math.round((py - rect.top) * dpr), 1, 1).data;
    return Array.from(data.slice(0, 3));
}"""


def redrawn(page):
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def test_the_overlay_follows_the_preview_and_next_point_places_a_point_where_none_is(login, keyframe, users,
                                                                                     screenshot):
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    wait_until(page, f"({GUIDED})() >= 1", 60)
    unsure = page.evaluate("() => window.studio.guidance.next")
    assert unsure is not None

    # U tints where the network is least sure; U again clears it. (The canvas draws the preview
    # that brought the guidance on the next animation frame: read it after that.)
    redrawn(page)
    plain = page.evaluate(CANVAS_RGB, [unsure["x"], unsure["y"]])
    page.keyboard.press("u")
    redrawn(page)
    tinted = page.evaluate(CANVAS_RGB, [unsure["x"], unsure["y"]])
    assert tinted != plain and tinted[0] > plain[0], (plain, tinted)
    page.keyboard.press("u")
    redrawn(page)
    assert page.evaluate(CANVAS_RGB, [unsure["x"], unsure["y"]]) == plain
    page.keyboard.press("u")

    # A point: the next preview brings guidance for that revision, and the next place keeps away from it.
    click_at(page, 12, 24)
    wait_settled(page, 2)
    wait_until(page, f"({GUIDED})() >= 2", 60)
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    wait_until(page, "document.getElementById('editor').dataset.nextPoint")
    x, y = (float(v) for v in page.evaluate("() => document.getElementById('editor').dataset.nextPoint").split(","))
    width, height = page.evaluate("() => window.studio.size")
    assert ((x - 12) ** 2 + (y - 24) ** 2) ** 0.5 >= max(width, height) / 10
    assert "next point" in page.locator("#suggest-where").inner_text().lower()
    screenshot(page, "editor-where-next")

    # A suggested color places a point there, as one revision.
    suggestion = page.locator("#suggestions button.suggestion").first
    color = suggestion.get_attribute("data-color")
    suggestion.click()
    wait_settled(page, 3)
    points = Keyframe.objects.get(pk=keyframe.pk).head.content["points"]
    assert len(points) == 2
    placed = points[-1]
    assert (abs(placed["x"] - x) <= 0.5 and abs(placed["y"] - y) <= 0.5 and placed["color"] == color), placed
    assert page.errors == []


def test_a_new_keyframe_is_offered_the_nearest_keyframes_points_and_accepts_them_as_one_revision(
        login, project, users, upload, tmp_path, screenshot):
    from annotations.keyframes.actions import add_keyframe
    from tests.annotations.review_helpers import annotate, panning_shot

    shot = panning_shot(project, users["producer"], upload, tmp_path)
    annotate(shot, users["annotator"], 6, {"points": [{"x": 40, "y": 30, "color": "#b04030", "radius": 2},
                                                      {"x": 110, "y": 80, "color": "#3070c0", "radius": 2}],
                                           "strokes": []})
    keyframe = add_keyframe(shot, users["annotator"], 2)
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    wait_until(page, "+document.getElementById('editor').dataset.proposals === 2", 60)
    assert "from frame 6" in page.locator("#carried-from").text_content()
    screenshot(page, "editor-carried-points")
    page.keyboard.press("a")
    wait_settled(page, 2)
    stored = Keyframe.objects.get(pk=keyframe.pk).head
    assert stored.number == 2  # both points in one revision
    assert sorted((round(p["x"]), round(p["y"]), p["color"]) for p in stored.content["points"]) == \
        [(32, 26, "#b04030"), (102, 76, "#3070c0")]
    assert page.locator("#carried-panel").is_hidden() and page.errors == []


def test_the_shot_page_plans_the_fewest_keyframes_for_the_chosen_level(login, shot, users, screenshot):
    page = login("annotator", "pw-annotator")
    page.goto(f"/studio/shots/{shot.pk}/")
    wait_until(page, "document.getElementById('shot-page').dataset.planLevel === '0.5'", 60)
    relaxed = page.locator("#suggested li button").count()
    page.locator("#confidence-level").evaluate("(el) => { el.value = '0.9'; el.dispatchEvent(new Event('change')); }")
    wait_until(page, "document.getElementById('shot-page').dataset.planLevel === '0.9'", 60)
    strict = page.locator("#suggested li button").count()
    assert strict > relaxed >= 1
    # Without keyframes every frame is red (no color to carry) under the timeline.
    red = page.evaluate("""() => {
        const canvas = document.getElementById('confidence-strip');
        const [r, g] = canvas.getContext('2d').getImageData(2, Math.round(canvas.height * 0.9), 1, 1).data;
        return r > 2 * g && r > 60;
    }""")
    assert red
    screenshot(page, "shot-keyframe-plan")
    assert page.errors == []


def test_a_reopened_keyframe_is_offered_only_the_points_it_lacks_and_not_those_dropped(
        login, project, users, upload, tmp_path):
    from tests.annotations.review_helpers import annotate, panning_shot

    shot = panning_shot(project, users["producer"], upload, tmp_path)
    annotate(shot, users["annotator"], 6, {"points": [{"x": 40, "y": 30, "color": "#b04030", "radius": 2},
                                                      {"x": 110, "y": 80, "color": "#3070c0", "radius": 2}],
                                           "strokes": []})
    # Frame 2 already has the first point, carried on an earlier visit; the neighbour's second point is new.
    keyframe = annotate(shot, users["annotator"], 2, {"points": [{"x": 32, "y": 26, "color": "#b04030", "radius": 2}],
                                                      "strokes": []})
    page = login("annotator", "pw-annotator")
    open_editor(page, keyframe)
    wait_until(page, "document.getElementById('editor').dataset.proposals !== undefined", 60)
    assert page.evaluate("() => document.getElementById('editor').dataset.proposals") == "1"
    assert "#3070c0" in page.locator("#carried-list").text_content()
    page.locator("#carried-drop").click()
    assert page.locator("#carried-panel").is_hidden()

    # Opened again: the dropped point is not offered a second time, and nothing was stored.
    open_editor(page, keyframe)
    wait_until(page, "document.getElementById('editor').dataset.proposals !== undefined", 60)
    assert page.evaluate("() => document.getElementById('editor').dataset.proposals") == "0"
    assert page.locator("#carried-panel").is_hidden() and page.errors == []
    assert Keyframe.objects.get(pk=keyframe.pk).head.number == 2
