"""Hypothesis against the one hint parser and the two ways hints arrive (REST ops, keyframe socket).

Whatever comes in, the answer is a clear refusal (HintError / 400 / an "error" message) or a
valid result, never an unexpected exception, a 5xx or a dead socket.
"""
from __future__ import annotations

import json
import math

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inference.hints import MAX_RADIUS, MAX_STROKE_WIDTH, HintError, parse_hints

WIDTH, HEIGHT = 64, 48
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

# Any JSON value, big integers and non-finite floats included (Python's json reads both).
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**400), max_value=10**400)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)

# Nearly valid hints: the right shape, with any field replaced by something odd.
coordinates = st.one_of(st.integers(-5, 70), st.floats(allow_nan=True, allow_infinity=True),
                        st.integers(min_value=10**300, max_value=10**400), json_values)
colors = st.one_of(st.from_regex(r"\A#[0-9a-fA-F]{6}\Z"), st.text(max_size=9), json_values)
points = st.fixed_dictionaries(
    {"x": coordinates, "y": coordinates, "color": colors},
    optional={"radius": coordinates, "id": st.one_of(st.text(max_size=40), json_values),
              "reference": json_values, "extra": json_values})
strokes = st.fixed_dictionaries(
    {"points": st.one_of(st.lists(st.lists(coordinates, min_size=0, max_size=3), max_size=5), json_values)},
    optional={"width": coordinates, "id": st.text(max_size=20)})
hint_sets = st.one_of(
    json_values,
    st.fixed_dictionaries({"points": st.lists(points, max_size=4), "strokes": st.lists(strokes, max_size=3)}),
)
ops = st.one_of(
    json_values,
    st.fixed_dictionaries({"op": st.sampled_from(["add_point", "update_point", "delete_point", "add_stroke",
                                                  "update_stroke", "delete_stroke", "replace_all", "bogus"])},
                          optional={"point": points, "stroke": strokes, "id": json_values,
                                    "changes": st.one_of(points, json_values), "hints": hint_sets}),
)


@FUZZ
@given(data=hint_sets)
@example(data={"points": [{"x": 1, "y": 10**400, "color": "#000000"}]})
@example(data={"points": [{"x": 1, "y": 1, "color": "#000000", "reference": 10**30}]})
@example(data={"strokes": [{"points": [[0, 0], [1, 1]], "width": float("inf")}]})
def test_parse_hints_accepts_valid_hints_or_says_why_not(data):
    try:
        hints = parse_hints(data, WIDTH, HEIGHT)
    except HintError as exc:
        assert str(exc) and len(str(exc)) < 1000
        return
    for point in hints.points:
        assert 0 <= point.x < WIDTH and 0 <= point.y < HEIGHT and 0 <= point.radius <= MAX_RADIUS
        assert math.isfinite(point.x) and math.isfinite(point.y)
    for stroke in hints.strokes:
        assert 0 < stroke.width <= MAX_STROKE_WIDTH
        assert all(0 <= x < WIDTH and 0 <= y < HEIGHT for x, y in stroke.points)
    # What was accepted reads back the same, and survives JSON.
    again = parse_hints(json.loads(json.dumps(hints.to_dict())), WIDTH, HEIGHT)
    assert again == hints


@pytest.fixture
def editor(keyframe, users, client_for):
    return client_for(users["annotator"])


@pytest.mark.django_db
@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"ops": st.lists(ops, min_size=1, max_size=4)},
                                            optional={"base_revision": json_values, "message": json_values}),
                      json_values))
def test_hint_ops_api_answers_400_not_500(editor, keyframe, body):
    url = reverse("api:keyframe-hint-ops", args=[keyframe.pk])
    with transaction.atomic():
        response = editor.post(url, json.dumps(body), content_type="application/json")
        transaction.set_rollback(True)
    assert response.status_code in (200, 400, 409), (response.status_code, response.content[:300])
    if response.status_code != 200:
        assert response.json(), response.content


@pytest.mark.django_db
@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"hints": hint_sets},
                                            optional={"base_revision": json_values}), json_values))
def test_hints_put_answers_400_not_500(editor, keyframe, body):
    url = reverse("api:keyframe-hints", args=[keyframe.pk])
    with transaction.atomic():
        response = editor.put(url, json.dumps(body), content_type="application/json")
        transaction.set_rollback(True)
    assert response.status_code in (200, 400, 409), (response.status_code, response.content[:300])


# --- The keyframe socket ----------------------------------------------------------------------

socket_messages = st.one_of(
    st.text(min_size=1, max_size=40).map(lambda t: ("text", t)),  # (the test client cannot send "")
    json_values.map(lambda v: ("json", v)),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["edit", "revert", "history", "suggest", "preview", "cursor", "ping", "nope"])},
        optional={"ops": st.one_of(st.lists(ops, max_size=3), json_values), "revision": json_values,
                  "x": coordinates, "y": coordinates, "request": json_values, "message": json_values,
                  "tool": json_values},
    ).map(lambda m: ("json", m)),
)


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(messages=st.lists(socket_messages, min_size=1, max_size=6))
def test_keyframe_socket_survives_any_message(keyframe, users, messages):
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from annotations.routing import websocket_urlpatterns

    async def session():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/keyframes/{keyframe.pk}/")
        communicator.scope["user"] = users["annotator"]
        connected, _ = await communicator.connect(timeout=30)
        assert connected
        try:
            for kind, payload in messages:
                if kind == "text":
                    await communicator.send_to(text_data=payload)
                else:
                    await communicator.send_to(text_data=json.dumps(payload))
            await communicator.send_json_to({"type": "ping", "request": "alive"})
            while True:  # the socket still answers, after whatever came back for the fuzz
                reply = await communicator.receive_json_from(timeout=30)
                assert "server error" not in str(reply.get("message", "")), reply
                if reply.get("type") == "pong" and reply.get("request") == "alive":
                    break
        finally:
            await communicator.disconnect()

    async_to_sync(session)()


@pytest.fixture(autouse=True)
def _quiet_jobs():
    """Edits that get through start previews: let them finish before the database goes."""
    yield
    from colorproj import jobs

    jobs.drain(60)
