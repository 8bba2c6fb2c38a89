"""The annotator's hints on a keyframe: color points and color-boundary strokes.

One parser and validator serves the command line, the REST API and the websocket,
so a hint is judged the same way wherever it comes from. Coordinates are pixels of
the source frame; hint ids are stable so concurrent edits can address one hint.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

MAX_RADIUS = 32
MAX_STROKE_WIDTH = 64
MAX_POINTS = 2000
MAX_STROKES = 500
MAX_STROKE_VERTICES = 2000
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class HintError(ValueError):
    """A hint that cannot be used; the message names the offending hint."""


@dataclasses.dataclass(frozen=True)
class ColorPoint:
    x: float
    y: float
    color: tuple[int, int, int]
    radius: int = 2
    id: str = ""
    reference: int | None = None  # id of a project color reference backing this color

    @property
    def hex(self) -> str:
        return "#%02x%02x%02x" % self.color

    def to_dict(self) -> dict[str, Any]:
        data = {"id": self.id, "x": self.x, "y": self.y, "color": self.hex, "radius": self.radius}
        if self.reference is not None:
            data["reference"] = self.reference
        return data


@dataclasses.dataclass(frozen=True)
class Stroke:
    points: tuple[tuple[float, float], ...]
    width: float = 3
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "points": [list(p) for p in self.points], "width": self.width}


@dataclasses.dataclass(frozen=True)
class Hints:
    points: tuple[ColorPoint, ...] = ()
    strokes: tuple[Stroke, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"points": [p.to_dict() for p in self.points], "strokes": [s.to_dict() for s in self.strokes]}

    def __bool__(self) -> bool:
        return bool(self.points or self.strokes)


def _show(value: Any, limit: int = 60) -> str:
    """The offending value for a message, cut short: messages go back to clients and into logs."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a huge number"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_color(value: Any) -> tuple[int, int, int]:
    """'#a03020' (or 'a03020') -> (160, 48, 32)."""
    match = _HEX.match(value) if isinstance(value, str) else None
    if not match:
        raise HintError(f"bad color {_show(value)}: expected '#rrggbb'")
    digits = match.group(1)
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise HintError(f"{what} must be a number, got {_show(value)}")
    try:
        return float(value)
    except OverflowError:  # JSON integers have no size limit
        raise HintError(f"{what} is out of range") from None


def _inside(x: float, y: float, width: int, height: int, what: str) -> None:
    if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise HintError(f"{what} ({x:g}, {y:g}) is outside the {width}x{height} image")


def parse_point(data: Any, width: int, height: int, index: int = 0) -> ColorPoint:
    what = f"point {index}"
    if not isinstance(data, dict):
        raise HintError(f"{what} must be an object")
    x, y = _number(data.get("x"), f"{what} x"), _number(data.get("y"), f"{what} y")
    _inside(x, y, width, height, what)
    radius = data.get("radius", 2)
    if isinstance(radius, bool) or not isinstance(radius, int) or not 0 <= radius <= MAX_RADIUS:
        raise HintError(f"{what} radius must be an integer from 0 to {MAX_RADIUS}, got {_show(radius)}")
    reference = data.get("reference")
    if reference is not None and (isinstance(reference, bool) or not isinstance(reference, int)
                                  or not 0 < reference < 2**63):  # a database id
        raise HintError(f"{what} reference must be a color reference id")
    try:
        color = parse_color(data.get("color"))
    except HintError as exc:
        raise HintError(f"{what}: {exc}") from None
    return ColorPoint(x, y, color, radius, _hint_id(data), reference)


def parse_stroke(data: Any, width: int, height: int, index: int = 0) -> Stroke:
    what = f"stroke {index}"
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise HintError(f"{what} must be an object with a list of points")
    raw = data["points"]
    if not 2 <= len(raw) <= MAX_STROKE_VERTICES:
        raise HintError(f"{what} needs 2 to {MAX_STROKE_VERTICES} vertices, got {len(raw)}")
    vertices = []
    for vertex in raw:
        if not isinstance(vertex, (list, tuple)) or len(vertex) != 2:
            raise HintError(f"{what} vertices must be [x, y] pairs")
        x, y = _number(vertex[0], f"{what} x"), _number(vertex[1], f"{what} y")
        _inside(x, y, width, height, f"{what} vertex")
        vertices.append((x, y))
    stroke_width = _number(data.get("width", 3), f"{what} width")
    if not 1 <= stroke_width <= MAX_STROKE_WIDTH:
        raise HintError(f"{what} width must be from 1 to {MAX_STROKE_WIDTH}, got {stroke_width:g}")
    return Stroke(tuple(vertices), stroke_width, _hint_id(data))


def parse_hints(data: Any, width: int, height: int) -> Hints:
    """Validate a hints document ({"points": [...], "strokes": [...]}) against an image size."""
    if not isinstance(data, dict):
        raise HintError("hints must be a JSON object with 'points' and 'strokes'")
    unknown = set(data) - {"points", "strokes"}
    if unknown:
        raise HintError(f"unknown hint fields: {', '.join(sorted(unknown))}")
    points, strokes = data.get("points", []), data.get("strokes", [])
    if not isinstance(points, list) or not isinstance(strokes, list):
        raise HintError("'points' and 'strokes' must be lists")
    if len(points) > MAX_POINTS or len(strokes) > MAX_STROKES:
        raise HintError(f"at most {MAX_POINTS} points and {MAX_STROKES} strokes per keyframe")
    return Hints(
        tuple(parse_point(p, width, height, i) for i, p in enumerate(points)),
        tuple(parse_stroke(s, width, height, i) for i, s in enumerate(strokes)),
    )


def _hint_id(data: dict) -> str:
    value = data.get("id")
    if value is None or value == "":
        return uuid.uuid4().hex[:12]
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", value):
        raise HintError(f"bad hint id {_show(value)}")
    return value
