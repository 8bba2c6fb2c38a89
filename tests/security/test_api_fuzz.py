"""Schemathesis: the REST API fuzzed from its own OpenAPI schema (/api/schema/).

Every operation gets requests generated from the schema (valid and invalid ones), sent through
Django as a token-authenticated producer-manager of a project filled with one of everything (ids
start at 1, so generated ids hit real objects). Checks: no 5xx, and every documented answer
matches the schema. Example counts are small to keep the suite quick; raise FUZZ_EXAMPLES to dig.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))


def _load_schema():
    from django.core.wsgi import get_wsgi_application

    # The schema view needs no database: loading it at collection is safe.
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


schema = _load_schema()


@pytest.fixture(autouse=True)
def keep_test_transaction():
    """As Django's test client does: the test's transaction must outlive each request."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(world):
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=world.users["manager"]).key


# Small generated ids are pointed at the filled project's objects (ids are not 1, 2, ... once
# other tests have used the database's sequences).
OBJECTS = {"/api/projects/": "project", "/api/footage/": "footage", "/api/shots/": "shot",
           "/api/keyframes/": "keyframe", "/api/references/": "reference", "/api/attachments/": "attachment",
           "/api/renders/": "render"}


def _aim(case, ids: dict) -> None:
    params = case.path_parameters or {}
    for name, value in list(params.items()):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3:
            continue
        if name == "pk" and "/members/" in case.operation.path:
            params[name] = ids["member"]
        elif name == "pk":
            kind = next((k for prefix, k in OBJECTS.items() if case.operation.path.startswith(prefix)), None)
            if kind:
                params[name] = ids[kind]
        elif name in ("project_pk", "keyframe_pk"):  # the parent of a nested collection
            params[name] = ids[name.removesuffix("_pk")]


@pytest.mark.django_db
def test_api_from_its_schema(world, token):
    """One test over all operations, so the filled project is built once; each request runs in a
    savepoint that is rolled back, so a DELETE does not starve the operations after it."""
    from django.db import transaction

    failures, operations = [], [result.ok() for result in schema.get_all_operations()]
    answered = Counter()
    assert len(operations) > 40, [o.label for o in operations]
    for operation in operations:
        login = operation.path == "/api/auth/token/"

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        @given(case=operation.as_strategy())
        def fuzz(case):
            _aim(case, world.mine.ids)
            with transaction.atomic():
                response = case.call(headers=None if login else {"Authorization": f"Token {token}"})
                transaction.set_rollback(True)
            answered[response.status_code // 100] += 1
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # The fuzz reached real objects (generated ids hit them) as well as the refusals.
    assert answered[2] >= 30 and answered[4] >= 30, answered


@pytest.mark.django_db
@pytest.mark.parametrize("name, args, body", [
    ("api:notification-read", [], {"ids": [10**30]}),
    ("api:keyframe-approve", ["keyframe"], {"references": [10**30]}),
    ("api:footage-split", ["footage"], {"cuts": [10**30]}),
])
def test_numbers_too_large_for_the_database_are_no_500(world, client_for, name, args, body):
    """Found by the fuzz: JSON integers have no size limit, database columns do (SQLite raised
    OverflowError; PostgreSQL compares such a number as numeric and finds nothing)."""
    from django.urls import reverse

    user = world.users["reviewer" if "approve" in name else "manager"]
    url = reverse(name, args=[world.mine.ids[a] for a in args])
    response = client_for(user).post(url, body, format="json")
    if name == "api:notification-read" and response.status_code == 200:
        assert response.json()["marked"] == 0
    else:
        assert response.status_code == 400, response.content
