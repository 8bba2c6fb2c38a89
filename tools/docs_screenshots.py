"""The documentation's screenshots, taken in headless Chromium (Playwright) from a throwaway
studio: the demo data in a temporary folder, two real renders of the first demo shot (the second
after a hint changed, so the player can wipe against the previous render), served by
colorproj.server.

    .venv/bin/python tools/docs_screenshots.py [OUT]    # OUT: docs/ by default

Writes, in OUT: render-player.png, project-members.png, editor-review-status.png (an approved
keyframe in the editor), editor-withdraw-approval.png (the question before editing it),
editor-where-next.png (the uncertainty tinted and the next point marked), editor-carried-points.png (a new keyframe offered
the nearest approved keyframe's points) and shot-keyframe-plan.png (a shot page's keyframe plan).
Needs Chromium at /usr/bin/chromium.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def studio(var_dir: str) -> None:
    """Django on a fresh SQLite database and media folder under `var_dir`, jobs in this process."""
    os.environ.update(COLORPROJ_VAR_DIR=var_dir, DJANGO_SETTINGS_MODULE="colorproj.settings", COLORPROJ_JOBS="embedded")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def demo_with_renders():
    """The demo project, its first shot annotated, approved and rendered twice. -> (project, shot, render)"""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from annotations.keyframes.actions import add_keyframe, save_hints
    from annotations.models import Project
    from annotations.render.actions import start_render
    from annotations.review import actions as review
    from colorproj import jobs

    call_command("migrate", verbosity=0)
    call_command("demo", stdout=io.StringIO())
    users = {u.username.removeprefix("demo-"): u for u in get_user_model().objects.filter(username__startswith="demo-")}
    project = Project.objects.get()
    shot = project.shots.order_by("first_frame").first()
    w, h = shot.width, shot.height

    def hints(sky: str) -> dict:
        return {"points": [{"x": w * 0.15, "y": h * 0.15, "color": sky, "radius": 6},
                           {"x": w * 0.85, "y": h * 0.85, "color": "#8a5a32", "radius": 6},
                           {"x": w * 0.5, "y": h * 0.5, "color": "#c9a46a", "radius": 4}],
                "strokes": []}

    def approve_and_render(keyframes, sky: str):
        for keyframe in keyframes:
            save_hints(keyframe, users["annotator"], hints(sky))
            keyframe.refresh_from_db()
            review.submit(keyframe, users["annotator"])
            review.approve(keyframe, users["reviewer"], comment="matches the references")
        render = start_render(shot, users["producer"])
        jobs.drain(600)
        render.refresh_from_db()
        if render.status != "done":
            raise SystemExit(f"render {render.pk} ended {render.status}: {render.error}")
        return render

    keyframes = [add_keyframe(shot, users["annotator"], frame) for frame in (0, shot.frame_count - 1)]
    approve_and_render(keyframes, "#5b7fa6")
    for keyframe in keyframes:
        keyframe.refresh_from_db()
    return project, shot, approve_and_render(keyframes, "#7fa0c4")


def wait_until(page, expression: str, timeout: float = 120) -> None:
    """Poll a JavaScript expression (the pages' CSP forbids Playwright's eval-based waits)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {expression}")
        page.wait_for_timeout(200)


def log_in(browser, base: str, username: str, height: int = 1000):
    context = browser.new_context(viewport={"width": 1400, "height": height}, base_url=base)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "colorproj-demo")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def main(out: Path) -> None:
    var_dir = tempfile.mkdtemp(prefix="colorproj-screenshots-")
    studio(var_dir)
    project, shot, render = demo_with_renders()

    from playwright.sync_api import sync_playwright

    from tools.processes import child_env, daphne_command, free_port, stop, wait_listening

    port = free_port()
    server = subprocess.Popen(daphne_command(port), cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    try:
        wait_listening(port, [server], 60)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = log_in(browser, base, "demo-producer")
            page.goto(f"/review/shots/{shot.pk}/")
            player = f"[data-player='{render.pk}']"
            page.wait_for_selector(f"{player}[data-ready]")
            # Half-way through the shot the moving disc straddles the wipe.
            page.evaluate("([s, frame]) => document.querySelector(s).player.seek(frame)", [player, shot.frame_count // 2])
            page.wait_for_function("s => document.querySelector(s).dataset.drawn.endsWith(':both')", arg=player)
            page.locator(player).screenshot(path=str(out / "render-player.png"))

            page = log_in(browser, base, "demo-manager", height=760)
            page.goto(f"/studio/projects/{project.pk}/members/")
            page.screenshot(path=str(out / "project-members.png"))
            less_effort(browser, base, project, shot, out)
            browser.close()
    finally:
        stop(server)
    print(f"wrote the screenshots to {out} (studio data in {var_dir})")


def less_effort(browser, base: str, project, shot, out: Path) -> None:
    """Where to click next, carried points, where to key."""
    from django.contrib.auth import get_user_model

    from annotations.keyframes.actions import add_keyframe

    # Playwright's sync API keeps an event loop in this thread; these ORM calls are still plain
    # synchronous code, so Django's async-context guard does not apply (as in the browser tests).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    editor = "document.getElementById('editor').dataset"
    page = log_in(browser, base, "demo-annotator", height=820)
    first = shot.keyframes.order_by("frame").first()
    page.goto(f"/studio/keyframes/{first.pk}/")
    wait_until(page, f"+({editor}.guidanceRevision || 0) >= 1")
    page.screenshot(path=str(out / "editor-review-status.png"))
    point = first.hints["points"][0]
    page.keyboard.press("v")
    page.mouse.click(*page.evaluate("([x, y]) => window.studio.toPage(x, y)", [point["x"], point["y"]]))
    page.keyboard.press("ArrowRight")  # a nudge of an approved keyframe: the editor asks first
    wait_until(page, "document.getElementById('withdraw-dialog').open")
    page.screenshot(path=str(out / "editor-withdraw-approval.png"))
    page.click("#withdraw-dialog button[value=cancel]")
    page.keyboard.press("Escape")
    page.keyboard.press("u")
    page.keyboard.press("j")
    wait_until(page, f"{editor}.nextPoint")
    page.screenshot(path=str(out / "editor-where-next.png"))

    # Next to the approved first keyframe: the demo reel's moving texture is hard to follow for long.
    middle = add_keyframe(shot, get_user_model().objects.get(username="demo-annotator"), first.frame + 1)
    page.goto(f"/studio/keyframes/{middle.pk}/")
    wait_until(page, f"+({editor}.proposals || 0) > 0")
    page.screenshot(path=str(out / "editor-carried-points.png"))

    second = project.shots.order_by("first_frame")[1]
    page.goto(f"/studio/shots/{second.pk}/")
    wait_until(page, "document.getElementById('shot-page').dataset.planLevel")
    page.screenshot(path=str(out / "shot-keyframe-plan.png"))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs").resolve())
