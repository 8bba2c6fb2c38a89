// The hint model in the browser: the same operations as the server (annotations.keyframes.actions),
// their inverses for undo, and hit testing. Hints are {points: [...], strokes: [...]} in source pixels.

export const clone = (value) => JSON.parse(JSON.stringify(value));

export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const kindOf = (op) => op.op.split("_")[1]; // "point" | "stroke" | "all"

// Apply ops to a copy of `hints`. Like the server: deleting a missing hint is a no-op,
// updating one throws (a conflict).
export function applyOps(hints, ops) {
  const result = clone(hints);
  for (const op of ops) {
    if (op.op === "replace_all") {
      result.points = clone(op.hints.points || []);
      result.strokes = clone(op.hints.strokes || []);
      continue;
    }
    const [verb, kind] = op.op.split("_");
    const items = result[kind + "s"];
    if (verb === "add") { items.push(clone(op[kind])); continue; }
    const index = items.findIndex((item) => item.id === op.id);
    if (verb === "delete") { if (index >= 0) items.splice(index, 1); continue; }
    if (index < 0) throw new Error(`${kind} ${op.id} no longer exists`);
    items[index] = { ...items[index], ...clone(op.changes) };
  }
  return result;
}

// The ops that undo `ops` when applied after them, given the hints they were applied to.
export function inverseOps(hints, ops) {
  const inverse = [];
  let state = clone(hints);
  for (const op of ops) {
    if (op.op === "replace_all") {
      inverse.unshift({ op: "replace_all", hints: clone(state) });
    } else {
      const kind = kindOf(op);
      const items = state[kind + "s"];
      if (op.op.startsWith("add_")) {
        inverse.unshift({ op: `delete_${kind}`, id: op[kind].id });
      } else {
        const old = items.find((item) => item.id === op.id);
        if (old && op.op.startsWith("delete_")) inverse.unshift({ op: `add_${kind}`, [kind]: clone(old) });
        if (old && op.op.startsWith("update_")) {
          const changes = {};
          for (const key of Object.keys(op.changes)) changes[key] = key in old ? clone(old[key]) : null;
          inverse.unshift({ op: `update_${kind}`, id: op.id, changes });
        }
      }
    }
    state = applyOps(state, [op]);
  }
  return inverse;
}

// Ids of the hints an op list touches, e.g. to tell an editor that someone changed "their" hint.
export function touchedIds(ops) {
  const ids = new Set();
  for (const op of ops || []) {
    if (op.id) ids.add(op.id);
    if (op.point?.id) ids.add(op.point.id);
    if (op.stroke?.id) ids.add(op.stroke.id);
  }
  return ids;
}

function distanceToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay;
  const t = dx || dy ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

// The hint under source pixel (x, y); `slack` is the pick tolerance in source pixels.
export function hitTest(hints, x, y, slack) {
  for (let i = hints.points.length - 1; i >= 0; i--) {
    const p = hints.points[i];
    if (Math.max(Math.abs(p.x - x), Math.abs(p.y - y)) <= Math.max(p.radius + 0.5, slack)) return { kind: "point", id: p.id };
  }
  for (let i = hints.strokes.length - 1; i >= 0; i--) {
    const s = hints.strokes[i];
    const vertex = s.points.findIndex(([vx, vy]) => Math.hypot(vx - x, vy - y) <= slack * 1.2);
    if (vertex >= 0) return { kind: "stroke", id: s.id, vertex };
    for (let j = 1; j < s.points.length; j++) {
      if (distanceToSegment(x, y, s.points[j - 1], s.points[j]) <= Math.max(s.width / 2, slack)) return { kind: "stroke", id: s.id };
    }
  }
  return null;
}

// Fewer vertices for a freehand stroke (Ramer–Douglas–Peucker), within `tolerance` source pixels.
export function simplify(points, tolerance) {
  if (points.length < 3) return points;
  let worst = 0, at = 0;
  for (let i = 1; i < points.length - 1; i++) {
    const d = distanceToSegment(points[i][0], points[i][1], points[0], points[points.length - 1]);
    if (d > worst) { worst = d; at = i; }
  }
  if (worst <= tolerance) return [points[0], points[points.length - 1]];
  return [...simplify(points.slice(0, at + 1), tolerance).slice(0, -1), ...simplify(points.slice(at), tolerance)];
}
