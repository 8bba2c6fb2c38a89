"""Who gets what: every page and API endpoint x every role x a project of theirs and one not theirs.

The expected answer of each cell is written in MATRIX below. Columns: anonymous, a signed-in user
with no project ("nonmember"), the four project roles on their own project, and "other": what any
of those signed-in users gets when the same URL names an object of a project they do not belong
to (always 404, as if it did not exist; "-" where the URL names no object).
Every request runs inside a savepoint that is rolled back, so the cells do not disturb each other.
Besides the status, no response to anyone outside the other project may contain its MARKER text.

test_every_endpoint_is_in_the_matrix enumerates the URL patterns and methods: a new endpoint
fails it until its row is added here.
"""
from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.security.conftest import MARKER, png_bytes

pytestmark = pytest.mark.django_db

ROLES = ["anon", "nonmember", "annotator", "reviewer", "producer", "manager"]

MATRIX = """
url name                       method  anon nonmember annotator reviewer producer manager other
login                          GET     200  200       200       200      200      200     -
login                          POST    200  200       200       200      200      200     -
login                          PUT     200  200       200       200      200      200     -
logout                         POST    302  302       302       302      302      302     -
api-schema                     GET     200  200       200       200      200      200     -
api-docs                       GET     200  200       200       200      200      200     -
api-redoc                      GET     200  200       200       200      200      200     -
favicon                        GET     301  301       301       301      301      301     -
home                           GET     302  200       200       200      200      200     -
project                        GET     302  404       200       200      200      200     404
notifications                  GET     302  200       200       200      200      200     -
review-keyframe                GET     302  404       200       200      200      200     404
review-keyframe-preview        GET     302  404       200       200      200      200     404
review-shot                    GET     302  404       200       200      200      200     404
review-report                  GET     302  404       200       200      200      200     404
render-progress                GET     302  404       200       200      200      200     404
render-player                  GET     302  404       200       200      200      200     404
render-frame                   GET     302  404       200       200      200      200     404
studio:project                 GET     302  404       200       200      200      200     404
studio:members                 GET     302  404       200       200      200      200     404
studio:shot                    GET     302  404       200       200      200      200     404
studio:suggested-keyframes     GET     302  404       200       200      200      200     404
studio:keyframe                GET     302  404       200       200      200      200     404
studio:keyframe-frame          GET     302  404       200       200      200      200     404
studio:keyframe-preview        GET     302  404       200       200      200      200     404
studio:rendered-frame          GET     302  404       200       200      200      200     404
api:token                      POST    200  200       200       200      200      200     -
api:me                         GET     403  200       200       200      200      200     -
api:project-list               GET     403  200       200       200      200      200     -
api:project-list               POST    403  403       403       403      403      201     -
api:project-detail             GET     403  404       200       200      200      200     404
api:project-detail             PATCH   403  404       403       403      403      200     404
api:member-list                GET     403  404       200       200      200      200     404
api:member-list                POST    403  404       403       403      403      202     404
api:member-detail              PATCH   403  404       403       403      403      200     404
api:member-detail              DELETE  403  404       403       403      403      204     404
api:project-footage               GET     403  404       200       200      200      200     404
api:project-footage               POST    403  404       403       403      202      202     404
api:footage-detail             GET     403  404       200       200      200      200     404
api:footage-split              POST    403  404       403       403      409      409     404
api:project-shots                  GET     403  404       200       200      200      200     404
api:shot-detail                GET     403  404       200       200      200      200     404
api:shot-frame                 GET     403  404       200       200      200      200     404
api:shot-thumbnail             GET     403  404       200       200      200      200     404
api:shot-filmstrip             GET     403  404       200       200      200      200     404
api:shot-keyframes              GET     403  404       200       200      200      200     404
api:shot-keyframes              POST    403  404       201       403      403      201     404
api:keyframe-detail            GET     403  404       200       200      200      200     404
api:keyframe-detail            DELETE  403  404       204       403      403      204     404
api:keyframe-hints             GET     403  404       200       200      200      200     404
api:keyframe-hints             PUT     403  404       200       403      403      200     404
api:keyframe-hint-ops          POST    403  404       200       403      403      200     404
api:revision-list              GET     403  404       200       200      200      200     404
api:revision-detail            GET     403  404       200       200      200      200     404
api:project-references             GET     403  404       200       200      200      200     404
api:project-references             POST    403  404       201       201      403      201     404
api:reference-detail           GET     403  404       200       200      200      200     404
api:reference-detail           PATCH   403  404       200       200      403      200     404
api:reference-detail           DELETE  403  404       204       204      403      204     404
api:reference-attachments      POST    403  404       201       201      403      201     404
api:attachment-detail            GET     403  404       200       200      200      200     404
api:attachment-detail            DELETE  403  404       204       204      403      204     404
api:audit-list                 GET     403  404       403       200      200      200     404
api:keyframe-submit            POST    403  404       200       403      403      200     404
api:keyframe-approve           POST    403  404       403       200      403      403     404
api:keyframe-request-changes   POST    403  404       403       200      403      403     404
api:keyframe-reviews           GET     403  404       200       200      200      200     404
api:keyframe-comments          GET     403  404       200       200      200      200     404
api:keyframe-comments          POST    403  404       201       201      403      201     404
api:shot-review                GET     403  404       200       200      200      200     404
api:notification-list          GET     403  200       200       200      200      200     -
api:notification-read          POST    403  200       200       200      200      200     -
api:shot-renders               GET     403  404       200       200      200      200     404
api:shot-renders               POST    403  404       403       403      409      409     404
api:render-detail              GET     403  404       200       200      200      200     404
api:render-retry               POST    403  404       403       403      409      409     404
api:render-cancel              POST    403  404       403       403      409      409     404
api:render-remove-files        POST    403  404       403       403      200      200     404
api:render-contact-sheet       GET     403  404       200       200      200      200     404
api:render-qc-chart            GET     403  404       200       200      200      200     404
api:render-confidence-sheet    GET     403  404       200       200      200      200     404
api:deliverable-download       GET     403  404       403       403      200      200     404
api:deliverable-manifest       GET     403  404       403       403      200      200     404
"""
# Notes on cells that are not plain yes/no:
#   login POST/PUT re-show the form (wrong password); api:token gives a token for right credentials.
#   footage-split, shot-renders POST, render-retry and -cancel: the role may, the state refuses
#   (409: keyframes exist / not all approved / render finished), which shows the role check passed.
#   The Django admin (admin/...) is for staff only and is checked separately below.


def _parse(table: str) -> dict[tuple[str, str], dict[str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header = lines[0][2:]  # "url name" is two words
    assert header[1:] == ROLES + ["other"], header
    return {(row[0], row[1]): dict(zip(ROLES + ["other"], row[2:], strict=True)) for row in lines[1:]}


EXPECTED = _parse(MATRIX)

# URL arguments of each name, from a project's ids (mine or other's).
KWARGS = {
    "project": lambda i: {"pk": i["project"]},
    "review-keyframe": lambda i: {"pk": i["keyframe"]},
    "review-keyframe-preview": lambda i: {"pk": i["keyframe"]},
    "review-shot": lambda i: {"pk": i["shot"]},
    "review-report": lambda i: {"pk": i["shot"]},
    "render-progress": lambda i: {"pk": i["render"]},
    "render-player": lambda i: {"pk": i["render"]},
    "render-frame": lambda i: {"pk": i["render"], "frame": 0},
    "studio:project": lambda i: {"pk": i["project"]},
    "studio:members": lambda i: {"pk": i["project"]},
    "studio:shot": lambda i: {"pk": i["shot"]},
    "studio:suggested-keyframes": lambda i: {"pk": i["shot"]},
    "studio:keyframe": lambda i: {"pk": i["keyframe"]},
    "studio:keyframe-frame": lambda i: {"pk": i["keyframe"]},
    "studio:keyframe-preview": lambda i: {"pk": i["keyframe"]},
    "studio:rendered-frame": lambda i: {"pk": i["shot"], "frame": 0},
    "api:project-detail": lambda i: {"pk": i["project"]},
    "api:member-list": lambda i: {"project_pk": i["project"]},
    "api:member-detail": lambda i: {"project_pk": i["project"], "pk": i["member"]},
    "api:project-footage": lambda i: {"pk": i["project"]},
    "api:project-shots": lambda i: {"pk": i["project"]},
    "api:project-references": lambda i: {"pk": i["project"]},
    "api:audit-list": lambda i: {"project_pk": i["project"]},
    "api:footage-detail": lambda i: {"pk": i["footage"]},
    "api:footage-split": lambda i: {"pk": i["footage"]},
    "api:shot-detail": lambda i: {"pk": i["shot"]},
    "api:shot-frame": lambda i: {"pk": i["shot"], "frame": 0},
    "api:shot-thumbnail": lambda i: {"pk": i["shot"]},
    "api:shot-filmstrip": lambda i: {"pk": i["shot"]},
    "api:shot-keyframes": lambda i: {"pk": i["shot"]},
    "api:keyframe-detail": lambda i: {"pk": i["draft_keyframe"]},
    "api:keyframe-hints": lambda i: {"pk": i["keyframe"]},
    "api:keyframe-hint-ops": lambda i: {"pk": i["keyframe"]},
    "api:revision-list": lambda i: {"keyframe_pk": i["keyframe"]},
    "api:revision-detail": lambda i: {"keyframe_pk": i["keyframe"], "number": 1},
    "api:reference-detail": lambda i: {"pk": i["spare_reference"]},
    "api:reference-attachments": lambda i: {"pk": i["reference"]},
    "api:attachment-detail": lambda i: {"pk": i["attachment"]},
    "api:keyframe-submit": lambda i: {"pk": i["draft_keyframe"]},
    "api:keyframe-approve": lambda i: {"pk": i["keyframe"]},
    "api:keyframe-request-changes": lambda i: {"pk": i["keyframe"]},
    "api:keyframe-reviews": lambda i: {"pk": i["keyframe"]},
    "api:keyframe-comments": lambda i: {"pk": i["keyframe"]},
    "api:shot-review": lambda i: {"pk": i["shot"]},
    "api:shot-renders": lambda i: {"pk": i["shot"]},
    "api:render-detail": lambda i: {"pk": i["render"]},
    "api:render-retry": lambda i: {"pk": i["render"]},
    "api:render-cancel": lambda i: {"pk": i["render"]},
    "api:render-remove-files": lambda i: {"pk": i["render"]},
    "api:render-contact-sheet": lambda i: {"pk": i["render"]},
    "api:render-qc-chart": lambda i: {"pk": i["render"]},
    "api:render-confidence-sheet": lambda i: {"pk": i["render"]},
    "api:deliverable-download": lambda i: {"pk": i["render"], "kind": "mp4"},
    "api:deliverable-manifest": lambda i: {"pk": i["render"], "kind": "mp4"},
}


def _upload(name, data, content_type):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


# Request bodies: what a permitted role would really send (JSON unless "multipart").
BODIES = {
    ("login", "POST"): lambda w: ("multipart", {"username": "annotator", "password": "wrong"}),
    ("api:token", "POST"): lambda w: ("json", {"username": "annotator", "password": "pw-annotator"}),
    ("api:project-list", "POST"): lambda w: ("json", {"name": "New project"}),
    ("api:project-detail", "PATCH"): lambda w: ("json", {"description": "changed"}),
    ("api:member-list", "POST"): lambda w: ("json", {"username": w.outsider.username, "role": "annotator"}),
    ("api:member-detail", "PATCH"): lambda w: ("json", {"role": "reviewer"}),
    ("api:project-footage", "POST"): lambda w: ("multipart", {"file": _upload("clip.mp4", w.clip_bytes, "video/mp4")}),
    ("api:footage-split", "POST"): lambda w: ("json", {}),
    ("api:shot-keyframes", "POST"): lambda w: ("json", {"frame": 4}),
    ("api:keyframe-hints", "PUT"): lambda w: ("json", {"hints": {"points": [], "strokes": []}}),
    ("api:keyframe-hint-ops", "POST"): lambda w: ("json", {"ops": [
        {"op": "add_point", "point": {"x": 3, "y": 3, "color": "#102030"}}]}),
    ("api:project-references", "POST"): lambda w: ("json", {"name": "Cap badge", "color": "#aa9955",
                                                        "source_kind": "archive", "citation": "box 4"}),
    ("api:reference-detail", "PATCH"): lambda w: ("json", {"notes": "checked again"}),
    ("api:reference-attachments", "POST"): lambda w: ("multipart", {"file": _upload("s.png", png_bytes(),
                                                                                     "image/png")}),
    ("api:keyframe-submit", "POST"): lambda w: ("json", {"message": "ready"}),
    ("api:keyframe-approve", "POST"): lambda w: ("json", {"comment": "matches the archive"}),
    ("api:keyframe-request-changes", "POST"): lambda w: ("json", {"comment": "darker tunic"}),
    ("api:keyframe-comments", "POST"): lambda w: ("json", {"text": "see the cuff"}),
    ("api:notification-read", "POST"): lambda w: ("json", {}),
    ("api:shot-renders", "POST"): lambda w: ("json", {}),
    ("api:render-retry", "POST"): lambda w: ("json", {}),
    ("api:render-cancel", "POST"): lambda w: ("json", {}),
    ("api:render-remove-files", "POST"): lambda w: ("json", {}),
}


def _walk(patterns, namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def _methods(pattern: URLPattern) -> list[str]:
    view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    if view is None:  # a function view: pages answer GET
        return ["GET"]
    actions = getattr(pattern.callback, "actions", None)  # a ViewSet route: its method -> action map
    if actions is not None:
        return [m.upper() for m in actions if m in view.http_method_names and m not in ("options", "head")]
    return [m.upper() for m in view.http_method_names if hasattr(view, m) and m not in ("options", "head")]


def registered_endpoints() -> set[tuple[str, str]]:
    found = set()
    for name, pattern in _walk(get_resolver().url_patterns):
        if name and name.startswith("admin:"):
            continue
        assert name, f"URL pattern {pattern.pattern} has no name: name it and add it to MATRIX"
        found |= {(name, method) for method in _methods(pattern)}
    return found


def test_every_endpoint_is_in_the_matrix():
    registered = registered_endpoints()
    missing = sorted(registered - set(EXPECTED))
    assert not missing, f"endpoints without a row in MATRIX (add the expected answer per role): {missing}"
    stale = sorted(set(EXPECTED) - registered)
    assert not stale, f"MATRIX rows for endpoints that no longer exist: {stale}"
    assert set(KWARGS) == {name for name, _ in EXPECTED if EXPECTED[(name, _)]["other"] != "-"}


def _client(world, role) -> APIClient:
    client = APIClient()
    user = {"anon": None, "nonmember": world.outsider}.get(role, world.users.get(role))
    if user is not None:
        client.force_login(user)
    return client


def _call(client, method, url, body):
    """One request in a savepoint that is rolled back afterwards; returns (status, body bytes)."""
    kind, data = body if body else ("json", None)
    with transaction.atomic():
        call = getattr(client, method.lower())
        response = call(url, data, format=kind) if data is not None else call(url)
        # (the test client closes a streamed response once read; closing it here would close the
        # database connection inside the savepoint)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)
    return response.status_code, content


@pytest.fixture
def matrix_world(world, clips):
    world.clip_bytes = clips("h264").read_bytes()
    return world


def _restore_files(world):
    """Deleting an attachment removes its file at once (not on commit): put it back for the next cell."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotations.models import ReferenceAttachment

    for attachment in ReferenceAttachment.objects.all():
        if not default_storage.exists(attachment.file.name):
            default_storage.save(attachment.file.name, ContentFile(png_bytes()))


def test_permission_matrix(matrix_world):
    world = matrix_world
    clients = {role: _client(world, role) for role in ROLES}
    wrong = []
    for (name, method), expected in EXPECTED.items():
        make_body = BODIES.get((name, method), lambda w: None)
        has_object = expected["other"] != "-"
        for side in ("mine", "other") if has_object else ("mine",):
            ids = getattr(world, side).ids
            url = reverse(name, kwargs=KWARGS[name](ids)) if has_object else reverse(name)
            for role in ROLES:
                want = expected[role] if side == "mine" or role == "anon" else expected["other"]
                # logging in or out changes the session: those cells get a client of their own
                client = _client(world, role) if name in ("login", "logout") else clients[role]
                status, content = _call(client, method, url, make_body(world))
                _restore_files(world)
                if str(status) != want:
                    wrong.append(f"{method} {url} ({name}, {side}) as {role}: {status}, expected {want}: "
                                 f"{content[:160]!r}")
                if MARKER.encode() in content:
                    wrong.append(f"{method} {url} ({name}, {side}) as {role}: shows the other project's data")
    assert not wrong, "\n".join(wrong)


def test_admin_is_for_staff_only(matrix_world):
    for role in ROLES:
        response = _client(matrix_world, role).get(reverse("admin:index"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"], role


# --- Object references across projects (insecure direct object references) --------------------

def test_ids_of_another_project_inside_my_urls_and_bodies(matrix_world):
    """Mixing my project's URL with the other project's ids gets nothing and changes nothing."""
    from annotations.models import Membership, Notification

    world, mine, other = matrix_world, matrix_world.mine.ids, matrix_world.other.ids
    manager, reviewer = _client(world, "manager"), _client(world, "reviewer")
    # Another project's membership addressed under my project.
    url = reverse("api:member-detail", kwargs={"project_pk": mine["project"], "pk": other["member"]})
    assert manager.patch(url, {"role": "manager"}, format="json").status_code == 404
    assert manager.delete(url).status_code == 404
    assert Membership.objects.filter(pk=other["member"], role="annotator").exists()
    # Approving while citing the other project's reference.
    response = reviewer.post(reverse("api:keyframe-approve", args=[mine["keyframe"]]),
                             {"references": [other["reference"]]}, format="json")
    assert response.status_code == 400 and MARKER not in response.content.decode()
    # Marking the other project's notifications read.
    response = reviewer.post(reverse("api:notification-read"), {"ids": other["notification"]}, format="json")
    assert response.status_code == 200 and response.json()["marked"] == 0
    assert not Notification.objects.filter(pk__in=other["notification"]).exclude(read_at=None).exists()
    # A review preview of another project's revision number stays in my keyframe.
    response = reviewer.get(reverse("api:revision-detail", args=[mine["keyframe"], 99]))
    assert response.status_code == 404


def test_a_hint_cannot_cite_another_projects_reference(matrix_world):
    world, mine, other = matrix_world, matrix_world.mine.ids, matrix_world.other.ids
    annotator = _client(world, "annotator")
    response = annotator.post(reverse("api:keyframe-hint-ops", args=[mine["keyframe"]]), {"ops": [
        {"op": "add_point", "point": {"x": 3, "y": 3, "color": "#102030", "reference": other["reference"]}}]},
        format="json")
    # Refused, without echoing anything of the other project; the review shows no such source.
    assert response.status_code == 400, response.content
    assert "unknown color reference" in response.json()["detail"]
    assert MARKER not in response.content.decode()
    reviews = annotator.get(reverse("api:keyframe-reviews", args=[mine["keyframe"]]))
    assert reviews.status_code == 200 and MARKER not in reviews.content.decode()
    page = annotator.get(reverse("review-keyframe", args=[mine["keyframe"]]))
    assert page.status_code == 200 and MARKER not in page.content.decode()


def test_lists_show_only_my_projects(matrix_world):
    world = matrix_world
    for role in ROLES[1:]:
        client = _client(world, role)
        for url in (reverse("api:project-list"), reverse("api:me"), reverse("api:notification-list"),
                    reverse("home"), reverse("notifications")):
            response = client.get(url)
            assert response.status_code == 200 and MARKER not in response.content.decode(), (role, url)
    projects = _client(world, "nonmember").get(reverse("api:project-list")).json()
    assert projects == []


# --- Websockets: every socket and client message type x every role x mine / other -------------

WS_MATRIX = """
socket    message   anon    nonmember annotator reviewer producer manager other
project   connect   closed  closed    open      open     open     open    closed
project   ping      -       -         pong      pong     pong     pong    -
keyframe  connect   closed  closed    open      open     open     open    closed
keyframe  edit      -       -         ack       error    error    ack     -
keyframe  revert    -       -         ack       error    error    ack     -
keyframe  history   -       -         history   history  history  history -
keyframe  suggest   -       -         ok        ok       ok       ok      -
keyframe  preview   -       -         ok        ok       ok       ok      -
keyframe  region_preview -  -         ok        ok       ok       ok      -
keyframe  carry     -       -         ok        error    error    ok      -
keyframe  cursor    -       -         ok        error    error    ok      -
keyframe  ping      -       -         pong      pong     pong     pong    -
"""
# "closed": the handshake is refused (4403 / 4404, the same for "no such object"); "ok": no error
# comes back (suggestions, previews and carried points arrive later from workers; cursors go to the others).
WS_ROUTES = {"ws/projects/<int:project_id>/": "project", "ws/keyframes/<int:keyframe_id>/": "keyframe"}
WS_MESSAGES = {
    "edit": {"ops": [{"op": "add_point", "point": {"x": 4, "y": 4, "color": "#445566"}}]},
    "revert": {"revision": 1},
    "history": {}, "suggest": {"x": 3, "y": 3}, "preview": {}, "cursor": {"x": 3, "y": 3}, "ping": {},
    "region_preview": {"x": 0, "y": 0, "width": 8, "height": 8}, "carry": {},
}


def _ws_table():
    lines = [line.split() for line in WS_MATRIX.strip().splitlines()]
    assert lines[0][2:] == ROLES + ["other"]
    return {(row[0], row[1]): dict(zip(ROLES + ["other"], row[2:], strict=True)) for row in lines[1:]}


WS_EXPECTED = _ws_table()


def test_every_socket_and_message_type_is_in_the_matrix():
    from annotations.projects.consumers import ProjectEventsConsumer
    from annotations.routing import websocket_urlpatterns
    from annotations.keyframes.consumers import KeyframeEditorConsumer

    assert {str(p.pattern) for p in websocket_urlpatterns} == set(WS_ROUTES), "a new socket: add it to WS_MATRIX"
    assert {m for s, m in WS_EXPECTED if s == "keyframe"} - {"connect"} == set(KeyframeEditorConsumer.HANDLERS)
    assert set(WS_MESSAGES) == set(KeyframeEditorConsumer.HANDLERS)
    # The project socket answers only pings (it has no handler table).
    assert not hasattr(ProjectEventsConsumer, "HANDLERS")


async def _exchange(communicator, message: dict) -> list[dict]:
    """Send `message`, then a ping; everything that came back before the pong."""
    await communicator.send_json_to({**message, "request": "m"})
    await communicator.send_json_to({"type": "ping", "request": "sync"})
    received, pongs, needed = [], 0, 2 if message["type"] == "ping" else 1
    while True:
        reply = await communicator.receive_json_from(timeout=30)
        if reply.get("type") == "pong":
            pongs += 1  # the project socket's pong does not echo "request"
            if reply.get("request") == "sync" or ("request" not in reply and pongs == needed):
                return received
            reply.setdefault("request", "m")
        received.append(reply)


def _verdict(expected: str, replies: list[dict]) -> bool:
    kinds = [r["type"] for r in replies if r.get("request") == "m" or r["type"] in ("error", "conflict")]
    if expected == "ok":
        return "error" not in kinds and "conflict" not in kinds
    return expected in kinds and (expected == "error" or "error" not in kinds)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_websocket_matrix(matrix_world, background_jobs):
    from channels.db import database_sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser

    from annotations.routing import websocket_urlpatterns

    world = matrix_world
    people = {"anon": AnonymousUser(), "nonmember": world.outsider, **world.users}
    wrong = []
    for socket in ("project", "keyframe"):
        for side in ("mine", "other"):
            ids = getattr(world, side).ids
            path = f"/ws/projects/{ids['project']}/" if socket == "project" else f"/ws/keyframes/{ids['keyframe']}/"
            for role in ROLES:
                column = role if side == "mine" or role == "anon" else "other"
                communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
                communicator.scope["user"] = people[role]
                connected, _ = await communicator.connect(timeout=30)
                want = WS_EXPECTED[(socket, "connect")][column]
                if connected != (want == "open"):
                    wrong.append(f"{path} as {role}: {'open' if connected else 'closed'}, expected {want}")
                if not connected:
                    continue
                for (row_socket, message), cells in WS_EXPECTED.items():
                    if row_socket != socket or message == "connect":
                        continue
                    replies = await _exchange(communicator, {"type": message, **WS_MESSAGES.get(message, {})})
                    if not _verdict(cells[column], replies):
                        wrong.append(f"{path} {message} as {role}: {[r['type'] for r in replies]}, "
                                     f"expected {cells[column]}")
                    if any(MARKER in str(r) for r in replies):
                        wrong.append(f"{path} {message} as {role}: shows the other project's data")
                await communicator.disconnect()
    await database_sync_to_async(background_jobs.check_worker)()
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("origin, host, accepted", [
    (b"http://studio.test", b"studio.test", True),           # the page's own origin
    (None, b"studio.test", True),                              # no Origin: not a browser, no third-party cookie
    (b"https://evil.example", b"studio.test", False),         # another site's page riding on the session
    (b"http://studio.test.evil.example", b"studio.test", False),
    (b"null", b"studio.test", False),                          # sandboxed frames, file:// pages
    (b"https://studio.test", b"studio.test", False),          # another scheme (the socket is ws://)
    (b"http://studio.test:8443", b"studio.test", False),      # another port
    (b"http://studio.test:80", b"studio.test", True),         # the scheme's default port, spelled out
    (b"http://studio.test:8000", b"studio.test:8000", True),
])
async def test_websocket_handshake_checks_the_origin(client, matrix_world, origin, host, accepted, settings):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from colorproj.asgi import application

    # The handshake is the subject, not the channel layer: an open socket's blocking Redis read
    # is not always cancellable when the test's event loop closes.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    await database_sync_to_async(client.force_login)(matrix_world.users["annotator"])
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"host", host)]
    if origin is not None:
        headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(application, f"/ws/projects/{matrix_world.mine.ids['project']}/",
                                         headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected is accepted
    if connected:
        await communicator.disconnect()
