"""Roles decide what each member may do; non-members cannot even learn that a project exists."""
import pytest
from django.urls import reverse

from annotations.models import Role
from annotations.permissions import CAPABILITIES, Cap, can

pytestmark = pytest.mark.django_db

ROLES = list(Role.values)


def test_capability_table():
    assert can  # the one place roles are decided
    assert Cap.MANAGE_MEMBERS in CAPABILITIES[Role.MANAGER]
    assert Cap.EDIT_HINTS in CAPABILITIES[Role.ANNOTATOR] and Cap.EDIT_HINTS not in CAPABILITIES[Role.REVIEWER]
    assert Cap.REVIEW in CAPABILITIES[Role.REVIEWER] and Cap.REVIEW not in CAPABILITIES[Role.ANNOTATOR]
    assert Cap.MANAGE_FOOTAGE in CAPABILITIES[Role.PRODUCER] and Cap.RENDER in CAPABILITIES[Role.PRODUCER]
    assert all(Cap.VIEW in caps for caps in CAPABILITIES.values())


def _requests(project, shot, keyframe):
    """(name, method, url, body, roles allowed)."""
    point = {"ops": [{"op": "add_point", "point": {"x": 1, "y": 1, "color": "#112233"}}]}
    return [
        ("view project", "get", reverse("api:project-detail", args=[project.pk]), None, ROLES),
        ("list shots", "get", reverse("api:project-shots", args=[project.pk]), None, ROLES),
        ("proxy frame", "get", reverse("api:shot-frame", args=[shot.pk, 3]), None, ROLES),
        ("revisions", "get", reverse("api:revision-list", args=[keyframe.pk]), None, ROLES),
        ("edit hints", "post", reverse("api:keyframe-hint-ops", args=[keyframe.pk]), point, ["annotator", "manager"]),
        ("add keyframe", "post", reverse("api:shot-keyframes", args=[shot.pk]), {"frame": 5}, ["annotator", "manager"]),
        ("add reference", "post", reverse("api:project-references", args=[project.pk]),
         {"name": "Tunic", "color": "#8a2a1e", "source_kind": "archive", "citation": "Regimental archive"},
         ["annotator", "reviewer", "manager"]),
        ("split footage", "post", reverse("api:footage-split", args=[shot.footage_id]), {"cuts": []},
         ["producer", "manager"]),
        ("audit", "get", reverse("api:audit-list", args=[project.pk]), None, ["reviewer", "producer", "manager"]),
        ("rename project", "patch", reverse("api:project-detail", args=[project.pk]), {"name": "Renamed"},
         ["manager"]),
        ("add member", "post", reverse("api:member-list", args=[project.pk]), {"username": "outsider", "role": "reviewer"},
         ["manager"]),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role, users, outsider, project, shot, keyframe, client_for):
    client = client_for(users[role])
    for name, method, url, body, allowed in _requests(project, shot, keyframe):
        response = getattr(client, method)(url, body, format="json")
        if role in allowed:  # allowed: the request is judged on its merits (split meets keyframes: 409)
            assert response.status_code not in (401, 403, 404), (name, response.status_code, response.content[:300])
        else:
            assert response.status_code == 403, (name, response.status_code)
            assert "role" in response.json()["detail"]
        if name == "add member" and role in allowed:
            project.memberships.filter(user=outsider).delete()


def test_non_member_gets_404_everywhere(users, outsider, project, shot, keyframe, client_for):
    client = client_for(outsider)
    for name, method, url, body, _ in _requests(project, shot, keyframe):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 404, (name, response.status_code)
    assert client.get(reverse("api:project-list")).json() == []
    # The same answer as for an id that does not exist at all: nothing leaks.
    assert client.get(reverse("api:project-detail", args=[project.pk + 1000])).status_code == 404


def test_anonymous_is_refused(project, client_for):
    response = client_for(None).get(reverse("api:project-list"))
    assert response.status_code in (401, 403)


def test_who_may_create_projects_is_a_setting(users, outsider, client_for, django_user_model, settings):
    """By default only staff and accounts given the right create projects (anyone could, and so
    become a manager)."""
    from annotations.permissions import allow_project_creation

    def create(user):
        return client_for(user).post(reverse("api:project-list"), {"name": "Mine"}, format="json")

    response = create(outsider)
    assert response.status_code == 403 and "staff" in response.json()["detail"]
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    assert create(staff).status_code == 201
    allow_project_creation(outsider)
    assert create(outsider).status_code == 201
    settings.COLORPROJ_PROJECT_CREATORS = "anyone"
    assert create(users["reviewer"]).status_code == 201


def test_projects_list_only_mine(users, outsider, client_for):
    from annotations.permissions import allow_project_creation
    from annotations.projects.actions import create_project

    allow_project_creation(users["annotator"])
    allow_project_creation(outsider)
    create_project(users["annotator"], "Mine")
    create_project(outsider, "Theirs")
    names = [p["name"] for p in client_for(users["annotator"]).get(reverse("api:project-list")).json()]
    assert names == ["Mine"]


def test_members_management(users, outsider, project, client_for):
    client = client_for(users["manager"])
    url = reverse("api:member-list", args=[project.pk])
    added = client.post(url, {"username": "outsider", "role": "annotator"}, format="json")
    # An unknown username answers exactly alike (it was 400 "does not exist": an oracle of usernames).
    unknown = client.post(url, {"username": "nobody-here", "role": "annotator"}, format="json")
    assert added.status_code == unknown.status_code == 202
    assert added.json() == {**unknown.json(), "username": "outsider",
                            "detail": unknown.json()["detail"].replace("nobody-here", "outsider")}
    assert client.post(url, {"username": "outsider", "role": "annotator"}, format="json").status_code == 409
    members = {m["username"]: m["id"] for m in client.get(url).json()}
    assert "nobody-here" not in members
    detail = reverse("api:member-detail", args=[project.pk, members["outsider"]])
    assert client.patch(detail, {"role": "reviewer"}, format="json").json()["role"] == "reviewer"
    assert client.patch(detail, {"role": "boss"}, format="json").status_code == 400
    # The last manager cannot leave or be demoted.
    own = project.memberships.get(user=users["manager"])
    own_url = reverse("api:member-detail", args=[project.pk, own.pk])
    assert client.delete(own_url).status_code == 409
    assert client.patch(own_url, {"role": "annotator"}, format="json").status_code == 409
    assert client.delete(detail).status_code == 204
    verbs = list(project.audit_events.values_list("verb", flat=True))
    assert {"member.added", "member.role_changed", "member.removed"} <= set(verbs)


def test_pages_require_login_and_show_only_my_projects(users, outsider, project, shot, client):
    assert client.get(reverse("home")).status_code == 302
    client.force_login(users["reviewer"])
    page = client.get(reverse("home")).content.decode()
    assert "Test project" in page and shot.name in page and "reviewer" in page
    assert client.get(reverse("project", args=[project.pk])).status_code == 200
    client.force_login(outsider)
    assert "Test project" not in client.get(reverse("home")).content.decode()
    assert client.get(reverse("project", args=[project.pk])).status_code == 404


def test_actions_check_the_actor_whatever_calls_them(users, outsider, project, shot, keyframe):
    """The same refusals as the API's, for a caller that skips the API (a command, a socket, a job)."""
    from django.http import Http404

    from annotations.errors import NotAllowed
    from annotations.footage.actions import split_footage
    from annotations.keyframes.actions import add_keyframe, apply_hint_ops
    from annotations.models import Membership
    from annotations.projects.actions import add_member, create_reference, update_project

    point = [{"op": "add_point", "point": {"x": 1, "y": 1, "color": "#112233"}}]
    refusals = [
        lambda: apply_hint_ops(keyframe, users["reviewer"], point),
        lambda: add_keyframe(shot, users["producer"], 5),
        lambda: split_footage(shot.footage, users["annotator"], []),
        lambda: create_reference(project, users["producer"], name="Coat", color="#223344"),
        lambda: update_project(project, users["annotator"], name="Renamed"),
        lambda: add_member(project, users["reviewer"], outsider, "annotator"),
    ]
    for refused in refusals:
        with pytest.raises(NotAllowed):
            refused()
    with pytest.raises(Http404):  # not a member: nothing tells the project exists
        apply_hint_ops(keyframe, outsider, point)
    assert keyframe.revisions.count() == 1 and not Membership.objects.filter(user=outsider).exists()
    project.refresh_from_db()
    assert project.name != "Renamed"
