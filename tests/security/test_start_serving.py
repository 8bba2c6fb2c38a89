"""`make start` serves as production does: DEBUG off, so a wrong address gets a plain 404 page and
never the list of the site's URLs, and static files collected once and served by WhiteNoise,
compressed, from STATIC_ROOT."""
from __future__ import annotations

import gzip
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from tests.processes import child_env, start_server, stop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("debug", [None, "", "1"])
def test_make_start_collects_static_files_and_serves_with_debug_off(debug):
    env = {key: value for key, value in child_env().items() if key != "DJANGO_DEBUG"}
    if debug is not None:
        env["DJANGO_DEBUG"] = debug
    recipe = subprocess.run(["make", "-n", "start"], cwd=settings.BASE_DIR, capture_output=True, text=True,
                            check=True, env=env).stdout.splitlines()
    serve = next(line for line in recipe if "colorproj.server" in line)
    collect = next(i for i, line in enumerate(recipe) if "collectstatic --noinput" in line)
    assert collect < recipe.index(serve)
    assert serve.startswith(f"DJANGO_DEBUG={debug or 0} ")  # off unless asked for


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def production_like(tmp_path, media_root):
    """A server as `make start` runs it: collected static files, DEBUG off, no static finders."""
    env = {"COLORPROJ_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "0", "COLORPROJ_STATIC_FINDERS": "0"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                   cwd=settings.BASE_DIR, env=child_env(env), check=True, timeout=300)
    server = start_server(env, tmp_path / "server.log")
    yield server
    stop(server)


def test_static_files_are_served_compressed_and_a_404_lists_no_urls(production_like):
    base = production_like.url
    status, headers, body = get(f"{base}/static/studio/manage.js", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip", headers
    assert b"membersApi" in gzip.decompress(body)
    assert "max-age" in headers.get("Cache-Control", "")

    status, headers, body = get(f"{base}/favicon.ico")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in body

    status, _, body = get(f"{base}/no/such/page/")
    text = body.decode()
    assert status == 404 and "Not found" in text
    for leak in ("URLconf", "api/schema", "studio/", "DEBUG = True", "Traceback"):
        assert leak not in text, leak
