"""Production settings, security headers, CSRF, login throttling, no secret in the repository."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

ROOT = Path(settings.BASE_DIR)
SECRET = "k" + "7Qx-9vLr2ZpN4sTb8WyE1mHc6JdF0aGu3KoYi5nXq_VeRtBwSzUlPjMhCgDfAs"  # test-only, 64 chars


def _run(code_or_args, env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "COLORPROJ_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"COLORPROJ_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "colorproj.settings"})
    env.update(env_extra)
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


PRODUCTION = {"COLORPROJ_PRODUCTION": "1", "DJANGO_SECRET_KEY": SECRET, "DJANGO_ALLOWED_HOSTS": "studio.example"}


def test_check_deploy_passes_in_production(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_development_setup(tmp_path):
    """The same check fails without the production profile: it does look at these settings."""
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], {}, tmp_path)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


@pytest.mark.parametrize("env, message", [
    ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
    ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY must be set"),
    ({"DJANGO_SECRET_KEY": "colorproj-insecure-development-key-change-me-in-production" * 2},
     "DJANGO_SECRET_KEY must be set"),
    ({"DJANGO_SECRET_KEY": "a" * 64}, "DJANGO_SECRET_KEY must be set"),
    ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS must list"),
    ({"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS must list"),
    ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG=1"),
])
def test_production_refuses_unsafe_configuration(env, message, tmp_path):
    result = _run("import django; django.setup()", {**PRODUCTION, **env}, tmp_path)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]


def test_production_values(tmp_path):
    code = ("from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER if hasattr(s, "
            "'SECURE_PROXY_SSL_HEADER') else None, s.SESSION_COOKIE_HTTPONLY)")
    plain = _run(code, PRODUCTION, tmp_path).stdout.split()
    assert plain == ["False", "True", "True", "True", "31536000", "None", "True"]
    # Behind a TLS-terminating proxy that redirects by itself.
    proxied = _run(code, {**PRODUCTION, "COLORPROJ_BEHIND_PROXY": "1", "COLORPROJ_SSL_REDIRECT": "0"}, tmp_path)
    assert "('HTTP_X_FORWARDED_PROTO', 'https')" in proxied.stdout and " False 31536000" in proxied.stdout


def test_development_secret_is_random_per_installation_and_private(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = _run(code, {}, tmp_path).stdout.strip()
    again = _run(code, {}, tmp_path).stdout.strip()
    elsewhere = _run(code, {}, tmp_path / "second").stdout.strip()
    assert len(first) >= 50 and first == again and first != elsewhere
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_no_secret_in_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    pattern = re.compile(r"""(SECRET_KEY\s*=\s*["'][^"']{8,}|django-insecure-|BEGIN [A-Z ]*PRIVATE KEY|"""
                         r"""(api|secret|access)[_-]?key["']?\s*[:=]\s*["'][A-Za-z0-9/+_-]{24,})""", re.I)
    found = []
    for name in tracked + ["colorproj/settings.py", "colorproj/security.py"]:
        path = ROOT / name
        if path.suffix in (".py", ".toml", ".cfg", ".ini", ".env", ".yml", ".yaml", ".json", ".md", ".sh", "") \
                and path.is_file() and path.stat().st_size < 2_000_000 and "tests/security/" not in name:
            text = path.read_text(errors="ignore")
            found += [f"{name}: {m.group(0)[:40]}" for m in pattern.finditer(text)]
    assert not found, found
    assert "var/" in (ROOT / ".gitignore").read_text()  # where the development key lives


# --- Headers ----------------------------------------------------------------------------------

def _csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.django_db
def test_security_headers_and_content_security_policy(keyframe, users, client):
    client.force_login(users["annotator"])
    for url in (reverse("login"), reverse("home"), reverse("studio:keyframe", args=[keyframe.pk]),
                reverse("api:project-list"), reverse("api-docs")):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = _csp(response)
        assert policy["script-src"][0] == "'self'" and "'unsafe-inline'" not in policy["script-src"], url
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["connect-src"] == ["'self'"] and "data:" in policy["img-src"] and "blob:" in policy["img-src"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
    # Review pages run their inline blocks under the per-response nonce, never 'unsafe-inline'.
    review = client.get(reverse("review-keyframe", args=[keyframe.pk]))
    script_src = _csp(review)["script-src"]
    assert "'unsafe-inline'" not in script_src
    nonce = next(s for s in script_src if s.startswith("'nonce-"))[len("'nonce-"):-1]
    assert f'<script nonce="{nonce}">' in review.content.decode()
    assert settings.CSP_INLINE_SCRIPT_PREFIXES == ["/api/redoc/"]


def test_studio_templates_have_no_inline_scripts_or_handlers():
    """The strict policy would block them: studio pages load ES modules from /static/ only."""
    offenders = []
    for path in list((ROOT / "templates").rglob("*.html")):
        relative = str(path.relative_to(ROOT / "templates"))
        text = path.read_text()
        offenders += [f"{relative}: inline <script>" for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text)
                      if "json_script" not in text[max(0, m.start() - 80):m.start()]
                      and 'type="application/json"' not in m.group(0) and "csp_nonce" not in m.group(0)]
        offenders += [f"{relative}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+=\"", text)]
        offenders += [f"{relative}: javascript: URL" for m in re.finditer(r"javascript:", text)]
    assert not offenders, offenders


# --- CSRF -------------------------------------------------------------------------------------

def test_every_post_form_carries_a_csrf_token():
    missing = []
    for path in (ROOT / "templates").rglob("*.html"):
        for form in re.finditer(r"<form\b[^>]*>.*?</form>", path.read_text(), re.S | re.I):
            if re.search(r"method=[\"']?post", form.group(0), re.I) and "{% csrf_token %}" not in form.group(0):
                missing.append(f"{path.relative_to(ROOT)}: {form.group(0)[:80]}")
    assert not missing, missing
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


@pytest.mark.django_db
def test_session_requests_need_the_csrf_token(project, users):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(reverse("login"))
    token = page.cookies["csrftoken"].value
    # The login form itself.
    assert browser.post(reverse("login"), {"username": "manager", "password": "pw-manager"}).status_code == 403
    response = browser.post(reverse("login"), {"username": "manager", "password": "pw-manager",
                                               "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    # The API, with the session cookie: refused without the header, accepted with it.
    url = reverse("api:project-references", args=[project.pk])
    body = {"name": "Cap badge", "color": "#aa9955", "source_kind": "archive", "citation": "box 4"}
    refused = browser.post(url, body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = browser.cookies["csrftoken"].value  # rotated at login
    accepted = browser.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    # Logging out is a POST with the token too (a link could not log anyone out).
    assert browser.get(reverse("logout")).status_code == 405
    assert browser.post(reverse("logout")).status_code == 403


# --- Login throttling -------------------------------------------------------------------------

@pytest.fixture
def clean_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_login_is_locked_after_repeated_failures(users, clean_throttles):
    from django.test import Client

    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = browser.post(reverse("login"), {"username": "manager", "password": "guess"})
        assert response.status_code == 200 and "did not match" in response.content.decode()
    locked = browser.post(reverse("login"), {"username": "manager", "password": "guess"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # Now even the right password is refused, on the page and for tokens ...
    assert browser.post(reverse("login"), {"username": "manager", "password": "pw-manager"}).status_code == 429
    token = APIClient().post(reverse("api:token"), {"username": "manager", "password": "pw-manager"})
    assert token.status_code == 429 and "Too many failed logins" in token.json()["detail"]
    # ... while other accounts are unaffected.
    assert browser.post(reverse("login"), {"username": "reviewer", "password": "pw-reviewer"}).status_code == 302


@pytest.mark.django_db
def test_token_endpoint_failures_count_too(users, clean_throttles):
    api = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert api.post(reverse("api:token"), {"username": "annotator", "password": "guess"}).status_code in (400, 429)
    response = api.post(reverse("api:token"), {"username": "annotator", "password": "pw-annotator"})
    assert response.status_code == 429


@pytest.mark.django_db
def test_token_endpoint_is_rate_limited(users, clean_throttles):
    api = APIClient()
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    answers = [api.post(reverse("api:token"), {"username": "producer", "password": "pw-producer"}).status_code
               for _ in range(rate + 1)]
    assert answers[:rate] == [200] * rate and answers[rate] == 429
