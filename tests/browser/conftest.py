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
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def studio_server(django_db_setup, django_db_blocker, media_root, celery_worker, tmp_path_factory):
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "COLORPROJ_MEDIA_ROOT": str(media_root), "PYTHONUNBUFFERED": "1", "DJANGO_DEBUG": "0"}
    if db["ENGINE"].endswith("sqlite3"):
        env["COLORPROJ_SQLITE"] = str(db["NAME"])
    else:
        env["DATABASE_URL"] = (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
                               f"{db['PORT'] or 5432}/{db['NAME']}")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("daphne") / "daphne.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                   "colorproj.asgi:application"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=settings.BASE_DIR)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{log_path.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        server.log_path = log_path
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


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


@pytest.fixture
def login(browser, studio_server, transactional_db):
    contexts = []

    def make(username: str, password: str):
        _server_password(username, password)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=studio_server)
        context.set_default_timeout(30_000)
        contexts.append(context)
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
            raise AssertionError(f"could not log in as {username}: {page.locator('main').inner_text()[:500]}")
        return page

    yield make
    for context in contexts:
        context.close()


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
