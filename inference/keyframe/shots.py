"""Annotation effort on shots: keyframes and color points a simulated annotator needs until every
frame of a shot reaches a target PSNR.

The still-image annotator (effort.py, after Zhang et al. 2017) moved to whole shots. Two
strategies key the same shot:
- "baseline": keyframes every `interval` frames (0, 30, 60, ...);
- "guided": the product's keyframe suggestions (`propagation.plan.plan_keyframes` at the studio's
  confidence level, 0.5; a lower level when that needs more keyframes than the baseline has), and
  points carried from the neighbour keyframe (`propagation.track.track_points`) proposed on a
  keyframe each time the annotator turns to it (those not proposed there before), as the editor
  proposes them when a keyframe is opened.
Each round the shot is propagated from its keyframes (each colorized by the keyframe engine from
its points) and every frame's PSNR measured; when one is under the target, `step` points (5x5,
the ground truth's patch-mean color) go on the keyframe nearest the worst frame, where that frame
is most wrong: the worst frame's largest 5x5 errors followed back to the keyframe along the motion
(confident tracks only), then, for the rest, the keyframe's own largest errors. Carried points
are accepted only where their color is right (RMS error over R, G, B within the target's, at the
place they land) and the track is confident; accepted ones cost nothing, the others are dropped.
When a round of points raised the worst frame by less than STALLED_DB, the guided annotator keys
that frame instead, as long as it has fewer keyframes than the baseline (the studio's suggestions
at a higher level would key it: its confidence has collapsed there). A shot ends when every frame
reaches the target or the points reach the cap.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from inference import color
from inference.hints import ColorPoint, Hints
from inference.keyframe.effort import peak_points, worst_points
from inference.keyframe.engine import KeyframeColorizer
from inference.keyframe.evaluate import patch_point
from inference.metrics import psnr
from inference.propagation import ShotPropagator, stretches
from inference.propagation.files import InputError, image_files, read_image
from inference.propagation.plan import carry_steps, plan_keyframes
from inference.propagation.track import track_points

STRATEGIES = ("baseline", "guided")
PLAN_LEVEL = 0.5  # the studio's keyframe confidence level (COLORPROJ_KEYFRAME_CONFIDENCE)
CARRY_CONFIDENCE = 0.5  # the editor proposes carried points at least this sure
RADIUS = 2  # 5x5 points, as in effort.py
STALLED_DB = 0.25  # a round of points that raises the worst frame less than this has stopped helping


@dataclasses.dataclass
class ShotResult:
    """One strategy on one shot: keyframes (frame indices), points placed (effort), points carried
    and accepted (free), carried points dropped, (points, the worst frame's PSNR in dB) per round,
    reached, and the worst frame's PSNR with the true colors on the keyframes (the most points on
    them can reach)."""
    keyframes: list[int]
    ceiling: float = float("nan")
    points: int = 0
    carried: int = 0
    dropped: int = 0
    curve: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    reached: bool = False


def read_clips(folder: Path, frames: int, long_side: int, names: list[str] | None = None
               ) -> list[tuple[str, list[np.ndarray]]]:
    """[(clip name, its first `frames` uint8 RGB frames at long side `long_side`)] for each
    sub-folder of color frames in `folder` (as `train propagate --export-clips` writes them), by
    name; only `names` when given. InputError for a missing folder, no clips, an unknown name, or a
    clip of fewer than 2 frames."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of clips")
    clips = sorted(p for p in folder.iterdir() if p.is_dir())
    if names:
        unknown = sorted(set(names) - {p.name for p in clips})
        if unknown:
            raise InputError(f"{folder}: no clip named {', '.join(unknown)}")
        clips = [p for p in clips if p.name in names]
    if not clips:
        raise InputError(f"{folder}: no clip folders (each clip is a folder of color frames)")
    result = []
    for clip in clips:
        paths = image_files(clip)[:frames]
        if len(paths) < 2:
            raise InputError(f"{clip}: a shot needs at least 2 frames, found {len(paths)}")
        shot = []
        for path in paths:
            rgb = read_image(path, color=True)
            if rgb.dtype != np.uint8:
                rgb = (rgb // 257).astype(np.uint8)
            scale = long_side / max(rgb.shape[:2])
            if scale < 1:
                rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                                 interpolation=cv2.INTER_AREA)
            if shot and rgb.shape != shot[0].shape:
                raise InputError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]} in a clip of "
                                 f"{shot[0].shape[1]}x{shot[0].shape[0]}")
            shot.append(rgb)
        result.append((clip.name, shot))
    return result


def guided_keyframes(grays: list[np.ndarray], most: int) -> list[int]:
    """The product's keyframe suggestions for a shot (uint8 luma frames): the plan at the studio's
    level, or at the highest lower level (steps of 0.05) that needs at most `most` keyframes (at
    0.05 still too many: its first `most`)."""
    steps = carry_steps(grays)
    for level in np.arange(PLAN_LEVEL, 0.0, -0.05):
        keys = plan_keyframes(steps, float(level))
        if len(keys) <= most:
            return keys
    return plan_keyframes(steps, 0.05)[:most]


def _patch(image: np.ndarray, y: int, x: int) -> np.ndarray:
    """The 5x5 patch of a point at (y, x), cut at the frame's edge (a view)."""
    return image[max(0, y - RADIUS): y + RADIUS + 1, max(0, x - RADIUS): x + RADIUS + 1]


def _mark(taken: np.ndarray, y: int, x: int) -> None:
    """Mark a point's 5x5 patch at (y, x) as taken (HxW bool, in place)."""
    _patch(taken, y, x)[...] = True


def _free(taken: np.ndarray, y: int, x: int) -> bool:
    """Whether a point at (y, x) leaves a patch's width to every taken pixel, as peak_points keeps them."""
    gap = 2 * (2 * RADIUS + 1) - 1
    return not taken[max(0, y - gap + 1): y + gap, max(0, x - gap + 1): x + gap].any()


class ShotAnnotation:
    """One strategy's annotation of one shot: keyframes with their points, the propagation cached
    per stretch (a keyframe's new points change only the stretches it bounds).

    truth: the shot's uint8 RGB frames (HxWx3, all one size); grays: their uint8 luma (HxW); keys:
    keyframe indices; engine colorizes the keyframes at long side `size`, propagator carries them.
    Points are (x, y) source pixels, 5x5.
    """

    def __init__(self, truth, grays, keys, engine: KeyframeColorizer, propagator: ShotPropagator, size: int):
        self.truth, self.grays, self.engine, self.propagator, self.size = truth, grays, engine, propagator, size
        self.points, self.taken, self.keyframes, self.stale = {}, {}, {}, set()
        self._ids = itertools.count()  # point ids, unique in the shot
        self.offered: dict[int, set[str]] = {}  # per keyframe: the ids of the points proposed to it
        for key in keys:
            self.add_keyframe(key)
        self.out: list[np.ndarray | None] = [None] * len(truth)
        self.stale = set(stretches(len(truth), self.keyframes))

    def _colorize(self, key: int) -> np.ndarray:
        return self.engine.colorize(self.grays[key], Hints(tuple(self.points[key])), long_side=self.size)

    def add_keyframe(self, key: int) -> None:
        """Key frame `key` (without points: the engine's automatic colors until it gets some)."""
        self.points[key] = []
        self.offered[key] = set()
        self.taken[key] = np.zeros(self.truth[0].shape[:2], bool)
        self.keyframes[key] = self._colorize(key)
        self.stale |= {(s, e) for s, e in stretches(len(self.truth), self.keyframes) if key in (s, e)}

    def add(self, key: int, points: list[ColorPoint]) -> None:
        """Put points on a keyframe; its stretches are propagated again at the next `measure`."""
        for p in points:
            _mark(self.taken[key], round(p.y), round(p.x))
        self.points[key] += points
        self.keyframes[key] = self._colorize(key)
        self.stale |= {(s, e) for s, e in stretches(len(self.truth), self.keyframes) if key in (s, e)}

    def measure(self) -> np.ndarray:
        """(n,) PSNR (dB) of every frame against the truth."""
        for start, end in sorted(self.stale):
            for index, rgb in self.propagator.propagate_stretch(self.grays, self.keyframes, start, end):
                self.out[index] = rgb
        self.stale.clear()
        return np.array([psnr(out, truth) for out, truth in zip(self.out, self.truth)])

    def track(self, source: int, target: int, xy: np.ndarray):
        """Points (x, y) on frame `source` followed to frame `target`: (xy, confidence)."""
        way = 1 if target >= source else -1
        return track_points((self.grays[i] for i in range(source, target + way, way)), xy)

    def point(self, key: int, x: int, y: int) -> ColorPoint:
        """A 5x5 point on a keyframe with the truth's patch-mean color."""
        return patch_point(self.truth[key], x, y, self._next_id(), RADIUS)

    def _next_id(self) -> str:
        return f"p{next(self._ids)}"

    def carry(self, key: int, tolerance: float) -> tuple[list[ColorPoint], int]:
        """The points of the nearest keyframe with points (ties: the earlier) not yet proposed to
        `key`, followed to it: (the confident ones whose color is within `tolerance` RMS of the
        truth where they land, away from the keyframe's points; how many were dropped)."""
        sources = [k for k in self.points if k != key and self.points[k]]
        if not sources:
            return [], 0
        source = min(sources, key=lambda k: (abs(k - key), k))
        points = [p for p in self.points[source] if p.id not in self.offered[key]]
        if not points:
            return [], 0
        self.offered[key] |= {p.id for p in points}
        ends, sure = self.track(source, key, np.array([[p.x, p.y] for p in points], np.float32))
        height, width = self.truth[key].shape[:2]
        accepted, blocked = [], self.taken[key].copy()
        for p, (x, y), confidence in zip(points, ends, sure):
            x, y = float(np.clip(x, RADIUS, width - 1 - RADIUS)), float(np.clip(y, RADIUS, height - 1 - RADIUS))
            truth = _patch(self.truth[key], round(y), round(x)).reshape(-1, 3).mean(0)
            error = float(np.sqrt(np.mean((np.array(p.color, np.float64) - truth) ** 2)))
            if confidence >= CARRY_CONFIDENCE and error <= tolerance and _free(blocked, round(y), round(x)):
                accepted.append(ColorPoint(x, y, p.color, RADIUS, self._next_id()))
                _mark(blocked, round(y), round(x))
        return accepted, len(points) - len(accepted)

    def worst(self, key: int, frame: int, count: int) -> list[ColorPoint]:
        """`count` points on keyframe `key`: frame `frame`'s largest 5x5 errors followed to the
        keyframe (confident tracks, free places), then the keyframe's own largest errors."""
        taken = self.taken[key].copy()
        centres = []
        if frame != key:
            error = ((self.out[frame].astype(np.float32) - self.truth[frame].astype(np.float32)) ** 2).sum(-1)
            found = peak_points(error, np.zeros_like(taken), 2 * count)
            if found:
                ends, sure = self.track(frame, key, np.array([[x, y] for y, x in found], np.float32))
                height, width = taken.shape
                for (x, y), confidence in zip(ends, sure):
                    y = int(np.clip(round(y), RADIUS, height - 1 - RADIUS))
                    x = int(np.clip(round(x), RADIUS, width - 1 - RADIUS))
                    if confidence >= CARRY_CONFIDENCE and _free(taken, y, x) and len(centres) < count:
                        _mark(taken, y, x)
                        centres.append((y, x))
        if len(centres) < count:
            own = self.keyframes[key]
            centres += worst_points(own, self.truth[key], taken, count - len(centres), RADIUS)
        return [self.point(key, x, y) for y, x in centres]


def annotate_shot(truth: list[np.ndarray], grays: list[np.ndarray], keys: list[int], engine: KeyframeColorizer,
                  propagator: ShotPropagator, target: float, step: int, cap: int, size: int, carry: bool,
                  most_keys: int | None = None, progress=None) -> ShotResult:
    """Rounds of the simulated annotator on one shot (uint8 RGB frames, all one size, and their
    uint8 luma) keyed at `keys` (frame indices); carry: propose carried points on each keyframe as
    it is first annotated; most_keys: key the worst frame when points stop helping, up to this many
    keyframes (None: never). `progress(result)` is called after each round."""
    shot = ShotAnnotation(truth, grays, keys, engine, propagator, size)
    result = ShotResult(sorted(keys))
    tolerance = 255.0 * 10 ** (-target / 20)  # the RMS error of a frame exactly at the target
    placed_last = False  # whether the last round placed points (not carried ones, not a keyframe)
    while True:
        scores = shot.measure()
        worst = float(scores.min())
        stalled = placed_last and worst - result.curve[-1][1] < STALLED_DB
        result.curve.append((result.points, worst))
        if progress:
            progress(result)
        if worst >= target:
            result.reached = True
            break
        if result.points >= cap:
            break
        frame = int(np.argmin(scores))
        placed_last = False
        if stalled and most_keys is not None and len(shot.keyframes) < most_keys and frame not in shot.keyframes:
            shot.add_keyframe(frame)
            continue
        key = min(shot.keyframes, key=lambda k: (abs(k - frame), k))
        if carry:  # the neighbour keyframe's points not yet proposed here
            accepted, dropped = shot.carry(key, tolerance)
            result.dropped += dropped
            if accepted:
                result.carried += len(accepted)
                shot.add(key, accepted)
                continue
        points = shot.worst(key, frame, min(step, cap - result.points))
        if not points:
            break
        result.points += len(points)
        placed_last = True
        shot.add(key, points)
    result.keyframes = sorted(shot.keyframes)
    true_keys = {k: truth[k] for k in shot.keyframes}
    result.ceiling = min(psnr(out, truth[i]) for i, out in propagator.propagate(grays, true_keys))
    return result


def evaluate_shot_effort(folder: Path, target: float, step: int, cap: int, size: int, frames: int, interval: int,
                         plot: Path, names: list[str] | None = None, device: str = "cpu", log=print) -> int:
    """Print points and keyframes per shot for both strategies, their medians and totals, and
    the guided/baseline point ratio; plot them to `plot`. Returns 0, or 2 for bad input."""
    try:
        if step < 1 or cap < 0 or frames < 2 or interval < 1 or size < 16:
            raise InputError("--step and --interval must be at least 1, --cap at least 0, --frames at least 2 "
                             "and --size at least 16")
        clips = read_clips(folder, frames, size, names)
    except InputError as exc:
        print(f"colorproj: error: {exc}", file=sys.stderr)
        return 2
    engine = KeyframeColorizer.load(device=device)
    propagator = ShotPropagator.load(device=device)
    results, started = [], time.time()
    for i, (name, truth) in enumerate(clips):
        grays = [color.to_uint8(color.to_luma(f)) for f in truth]
        baseline_keys = list(range(0, len(truth), interval))
        runs = {"baseline": (baseline_keys, False, None),
                "guided": (guided_keyframes(grays, len(baseline_keys)), True, len(baseline_keys))}
        row = {}
        for strategy, (keys, carry, most_keys) in runs.items():
            def progress(result, strategy=strategy):
                print(f"\rshot {i + 1}/{len(clips)} {name[:40]}, {strategy}: {result.points} points, worst frame "
                      f"{result.curve[-1][1]:.1f} dB ({time.time() - started:.0f} s)   ", end="", file=sys.stderr,
                      flush=True)

            row[strategy] = annotate_shot(truth, grays, keys, engine, propagator, target, step, cap, size, carry,
                                            most_keys, progress)
            print(file=sys.stderr)
        results.append((name, len(truth), truth[0].shape[:2], row))
    _report(results, target, step, cap, size, frames, interval, folder, log)
    _plot(results, target, cap, plot)
    log(f"plot: {plot}")
    return 0


def _report(results, target, step, cap, size, frames, interval, folder, log) -> None:
    log(f"{len(results)} shots from {folder} (first {frames} frames, long side {size}); {step} points (5x5) a "
        f"round until every frame reaches {target:g} dB or {cap} points; baseline: keyframes every {interval} frames")
    log("points: placed by the annotator; carried: accepted from the neighbour keyframe (free); worst dB: the "
        "worst frame at the end; true keys: the worst frame with the true colors on the keyframes")
    log(f"{'shot':<44}{'frames':>7}  {'strategy':<9}{'keyframes':<16}{'points':>7}{'carried':>8}"
        f"{'worst dB':>9}{'true keys':>10}{'reached':>8}")
    for name, count, _, row in results:
        for strategy in STRATEGIES:
            r = row[strategy]
            keys = ",".join(map(str, r.keyframes))
            log(f"{name[:44]:<44}{count:>7}  {strategy:<9}{keys:<16}{r.points:>7}{r.carried:>8}"
                f"{r.curve[-1][1]:>9.2f}{r.ceiling:>10.2f}{'yes' if r.reached else 'no':>8}")
    for strategy in STRATEGIES:
        rs = [row[strategy] for *_, row in results]
        needed = [r.points if r.reached else float("inf") for r in rs]
        median = float(np.median(needed))
        log(f"{strategy:<9} reached {sum(r.reached for r in rs)}/{len(rs)}; median points to reach "
            f"{f'>{cap}' if np.isinf(median) else f'{median:g}'}; points placed {sum(r.points for r in rs)}; "
            f"keyframes {sum(len(r.keyframes) for r in rs)}; carried points accepted {sum(r.carried for r in rs)}, "
            f"dropped {sum(r.dropped for r in rs)}")
    both = [row for *_, row in results if row["guided"].reached and row["baseline"].reached]
    for label, rows in ((f"shots both reach ({len(both)})", both), (f"all shots, the cap counted ({len(results)})",
                                                                      [row for *_, row in results])):
        guided, baseline = (sum(row[s].points for row in rows) for s in ("guided", "baseline"))
        ratio = f"{guided / baseline:.2f}" if baseline else "-"
        log(f"guided/baseline points, {label}: {guided}/{baseline} = {ratio}")


def _plot(results, target, cap, path: Path) -> None:
    import matplotlib  # only where a plot is drawn: it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = [name.split("__")[-1][:18] for name, *_ in results]
    x = np.arange(len(results))
    fig, (points, keys, curves) = plt.subplots(1, 3, figsize=(15, 4.2))
    for offset, strategy, tint in ((-0.2, "baseline", "tab:gray"), (0.2, "guided", "tab:blue")):
        rows = [row[strategy] for *_, row in results]
        bars = points.bar(x + offset, [r.points for r in rows], 0.4, color=tint, label=strategy)
        for bar, r in zip(bars, rows):
            if not r.reached:  # the cap, not the target, ended this shot
                bar.set_hatch("//"), bar.set_alpha(0.6)
        keys.bar(x + offset, [len(r.keyframes) for r in rows], 0.4, color=tint, label=strategy)
        for i, r in enumerate(rows):
            curves.plot(*zip(*r.curve), color=tint, marker=".", lw=1, alpha=0.8,
                        label=strategy if i == 0 else None)
    points.set_ylabel(f"points placed (hatched: {target:g} dB not reached by {cap})")
    keys.set_ylabel("keyframes")
    keys.yaxis.get_major_locator().set_params(integer=True)
    for ax in (points, keys):
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    curves.axhline(target, color="gray", lw=0.8, ls="--")
    curves.set_xlabel("points placed"), curves.set_ylabel("worst frame's PSNR (dB)")
    points.set_title("points per shot"), keys.set_title("keyframes per shot")
    curves.set_title("each shot, round by round")
    for ax in (keys, curves):
        ax.legend(fontsize=8)
    points.legend(handles=[Patch(color="tab:gray", label="baseline"), Patch(color="tab:blue", label="guided")],
                  fontsize=8)
    for ax in (points, keys, curves):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
