"""Uploading footage from the project page: upload progress, then the ingest followed live until
the new shot exists; a file that is not video is refused with its reason, and nothing is stored."""
from __future__ import annotations

from annotations.models import Footage
from tests.browser.editor_page import wait_until


def test_a_producer_uploads_footage_and_watches_it_ingest(login, project, users, clips, tmp_path, screenshot):
    page = login("producer", "pw-producer")
    page.goto(f"/studio/projects/{project.pk}/")

    not_video = tmp_path / "interview.mp4"
    not_video.write_bytes(b"this is a transcript, not a video" * 100)
    page.set_input_files("#upload-file", str(not_video))
    page.click("#upload-form button[type=submit]")
    wait_until(page, "document.getElementById('upload-status').textContent.startsWith('Upload failed')")
    assert "interview.mp4" in page.locator("#upload-status").inner_text()
    assert not Footage.objects.filter(project=project).exists()

    page.set_input_files("#upload-file", str(clips("h264")))
    page.fill("#upload-form input[name=name]", "Newsreel 1936")
    page.click("#upload-form button[type=submit]")
    wait_until(page, "document.querySelector('#footage-rows tr[data-footage]')?.dataset.status === 'ready'", 60)
    footage = Footage.objects.get(project=project)
    assert footage.name == "Newsreel 1936" and footage.status == "ready" and footage.shots.count() == 1
    row = page.locator(f"#footage-rows tr[data-footage='{footage.pk}']")
    assert row.locator("td").nth(2).inner_text() == str(footage.frame_count)
    screenshot(page, "project-upload")

    page.reload()
    assert page.locator(f".shot-card[data-shot='{footage.shots.get().pk}']").count() == 1
    assert page.errors == []

    # Annotators work on shots; they do not get the upload form.
    annotator = login("annotator", "pw-annotator")
    annotator.goto(f"/studio/projects/{project.pk}/")
    assert annotator.locator("#upload-form").count() == 0 and annotator.locator("#footage-rows tr").count() == 1
