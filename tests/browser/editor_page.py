"""Driving the keyframe editor page: waits are on the page's own state (revision numbers, the
preview's revision, the outbox), never on fixed sleeps."""
from __future__ import annotations

import time

REVISION = "() => +document.getElementById('editor').dataset.revision"
PREVIEW = "() => +(document.getElementById('editor').dataset.previewRevision || 0)"


def wait_until(page, expression: str, timeout: float = 30):
    """Poll a JavaScript expression until it is truthy (the page's CSP forbids Playwright's
    wait-for-function, which compiles its predicate with eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {expression}")
        page.wait_for_timeout(100)


def open_editor(page, keyframe):
    page.goto(f"/studio/keyframes/{keyframe.pk}/")
    wait_until(page, f"({REVISION})() >= 1 && ({PREVIEW})() >= 1", 60)


def click_at(page, x, y):
    """Click source pixel (x, y) of the keyframe."""
    page.mouse.click(*page.evaluate("([x, y]) => window.studio.toPage(x, y)", [x, y]))


def wait_settled(page, revision):
    """Until the server confirmed `revision` and the preview shows it."""
    wait_until(page, f"({REVISION})() >= {revision} && ({PREVIEW})() >= {revision} && "
                     f"document.getElementById('editor').dataset.pending === '0'", 60)


def preview_rgb(page, x, y):
    """The preview's color at source pixel (x, y), read back from the image the page shows."""
    return page.evaluate("""([x, y]) => {
        const image = window.studio.state.preview.image, [width, height] = window.studio.size;
        const canvas = document.createElement('canvas');
        canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(image, 0, 0);
        const px = Math.round(x * image.naturalWidth / width), py = Math.round(y * image.naturalHeight / height);
        return Array.from(ctx.getImageData(px, py, 1, 1).data.slice(0, 3));
    }""", [x, y])
