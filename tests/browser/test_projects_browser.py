"""Running a project from the studio in real headless Chromium: a manager starts a project, invites
a member, changes the member's role and the project's policy (all recorded in the audit trail);
members without the manager's role see the same pages without the controls, and are refused if
they try anyway.
"""
from __future__ import annotations

from annotations.models import AuditEvent, Membership, Project, Role
from annotations.permissions import allow_project_creation

# fetch() from the page with its session and CSRF token: what a hand-made request would send.
FETCH = """async ([url, method, body]) => {
  const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const response = await fetch(url, {method, credentials: "same-origin", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
  return [response.status, await response.text()];
}"""


def test_a_manager_creates_a_project_invites_a_member_and_sets_the_policy(login, users, screenshot):
    allow_project_creation(users["manager"])  # who may create projects is a setting: staff or given the right
    page = login("manager", "pw-manager")
    page.goto("/")
    page.fill("#new-project-form input[name=name]", "Fishing fleet, 1921")
    page.fill("#new-project-form textarea[name=description]", "Three reels from the harbour archive")
    with page.expect_navigation(url="**/members/"):
        page.click("#new-project-form button")
    project = Project.objects.get(name="Fishing fleet, 1921")
    assert list(project.memberships.values_list("user__username", "role")) == [("manager", Role.MANAGER)]

    # Invite the annotator as a reviewer.
    page.fill("#member-form input[name=username]", "annotator")
    page.select_option("#member-form select[name=role]", Role.REVIEWER)
    with page.expect_navigation():
        page.click("#member-form button")
    membership = Membership.objects.get(project=project, user=users["annotator"])
    assert membership.role == Role.REVIEWER
    assert page.locator(f"select[data-role='{membership.pk}']").input_value() == Role.REVIEWER

    # Nobody by that name: the page says so and nothing changes.
    page.fill("#member-form input[name=username]", "no-such-account")
    page.click("#member-form button")
    page.wait_for_function("() => document.getElementById('manage-status').textContent.includes('no-such-account')")
    assert project.memberships.count() == 2

    # Change the member's role.
    with page.expect_navigation():
        page.select_option(f"select[data-role='{membership.pk}']", Role.ANNOTATOR)
    membership.refresh_from_db()
    assert membership.role == Role.ANNOTATOR
    assert page.locator(f"select[data-role='{membership.pk}']").input_value() == Role.ANNOTATOR

    # The last manager cannot step down: the refusal is shown and the select shows the role that holds.
    mine = Membership.objects.get(project=project, user=users["manager"])
    page.select_option(f"select[data-role='{mine.pk}']", Role.PRODUCER)
    page.wait_for_function("() => document.getElementById('manage-status').textContent.includes('at least one manager')")
    assert page.locator(f"select[data-role='{mine.pk}']").input_value() == Role.MANAGER
    mine.refresh_from_db()
    assert mine.role == Role.MANAGER

    # The policy: references required.
    assert not project.require_references
    page.check("#project-form input[name=require_references]")
    with page.expect_navigation():
        page.click("#project-form button")
    project.refresh_from_db()
    assert project.require_references
    assert page.locator("#project-form input[name=require_references]").is_checked()

    verbs = list(AuditEvent.objects.filter(project=project).order_by("id").values_list("verb", flat=True))
    assert verbs == ["project.created", "member.added", "member.role_changed", "project.updated"]
    history = page.locator("#member-history").inner_text()
    assert "member.role_changed" in history and "require_references: True" in history
    assert AuditEvent.objects.get(project=project, verb="project.updated").after == {"require_references": True}
    page.goto(f"/studio/projects/{project.pk}/")
    assert page.locator("[data-field=require-references]").inner_text() == "yes"
    assert page.locator("#project-state").inner_text() == "No shots yet"
    page.goto(f"/studio/projects/{project.pk}/members/")
    screenshot(page, "project-members")
    assert page.errors == []


def test_members_without_the_manager_role_cannot_run_the_project(login, project, users):
    page = login("annotator", "pw-annotator")
    page.goto("/")
    assert page.locator("[data-project]").count() == 1
    assert page.locator("#new-project-form").count() == 0  # not staff, not given the right

    page.goto(f"/studio/projects/{project.pk}/members/")
    assert "producer" in page.locator("#members").inner_text()
    for control in ("#member-form", "select[data-role]", "button[data-remove]", "#project-form"):
        assert page.locator(control).count() == 0, control

    # Requests made by hand are refused by the actions' role checks.
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    attempts = [("/api/projects/", "POST", {"name": "Mine"}),
                (f"/api/projects/{project.pk}/members/", "POST", {"username": "outsider", "role": "manager"}),
                (f"/api/projects/{project.pk}/members/{reviewer.pk}/", "PATCH", {"role": "annotator"}),
                (f"/api/projects/{project.pk}/", "PATCH", {"require_references": True})]
    for url, method, body in attempts:
        status, text = page.evaluate(FETCH, [url, method, body])
        assert status == 403 and "CSRF" not in text, (url, status, text)
    project.refresh_from_db()
    reviewer.refresh_from_db()
    assert not project.require_references and reviewer.role == Role.REVIEWER
    assert Project.objects.count() == 1 and project.memberships.count() == 4
    assert page.errors == []
