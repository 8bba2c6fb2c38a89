"""Browser tests: the studio served by a real ASGI server (daphne, in its own process, on the
test database) and driven in Debian's headless Chromium through Playwright.

Fixtures:
    studio_server  (session) base URL of a daphne process serving colorproj.asgi on the test DB
    browser        (session) a headless Chromium
    login          login(user, password) -> a Page of a fresh browser context, logged in
Screenshots go to test-output/ (git-ignored) for people to look at.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from tests.processes import start_server, stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
OUTPUT = Path(settings.BASE_DIR) / "test-output"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the studio in headless Chromium (Playwright)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def studio_server(django_db_setup, django_db_blocker, media_root, celery_worker, tmp_path_factory):
    server = start_server(None, tmp_path_factory.mktemp("daphne") / "daphne.log")
    try:
        yield server.url
    finally:
        stop(server)


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it is
# open, which would break every later async test and async_to_sync call outside this folder.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls are
    # still plain synchronous code, so Django's async-context guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def log_in(browser, base_url: str, username: str, password: str):
    """A Page of a fresh browser context (close page.context when done), logged in at `base_url`."""
    _server_password(username, password)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=base_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text
            and page.errors.append(message.text))
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/login/" in page.url:
        context.close()
        raise AssertionError(f"could not log in as {username}: {page.locator('main').inner_text()[:500]}")
    return page


@pytest.fixture
def login(browser, studio_server, transactional_db):
    pages = []

    def make(username: str, password: str):
        pages.append(log_in(browser, studio_server, username, password))
        return pages[-1]

    yield make
    for page in pages:
        page.context.close()


def _server_password(username: str, password: str) -> None:
    """Store the password with a hasher the server knows (the suite itself uses a fast test-only one)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hashed = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt(), iterations=1000)
    get_user_model().objects.filter(username=username).update(password=hashed)


@pytest.fixture
def screenshot():
    def save(page, name: str) -> Path:
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
