"""Evaluation (the engine against flow chaining and against itself as first shipped, on clips of color
frames), the contact sheet and the speed benchmark."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from inference.color import as_float, rgb_to_lab, to_luma, to_uint8
from inference.metrics import psnr

from .engine import WEIGHTS, ShotPropagator
from .files import InputError, image_files, read_image
from .quality import assess

CDC_DISTANCES = (1, 2, 4)


def _histograms(frame: np.ndarray) -> np.ndarray:
    """Per-channel 256-bin color distributions, 3 x 256."""
    counts = np.stack([np.bincount(frame[..., c].ravel(), minlength=256) for c in range(3)]).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def _js(p: np.ndarray, q: np.ndarray) -> float:
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0).sum(axis=-1)
    return float(np.mean(0.5 * kl_p + 0.5 * kl_q))


def cdc(frames: list[np.ndarray]) -> float:
    """Color distribution consistency: JS divergence of per-channel color histograms of frames
    1, 2 and 4 apart, averaged over channels, pairs and the three distances (lower is steadier)."""
    hists = [_histograms(f) for f in frames]
    per_distance = [np.mean([_js(hists[i], hists[i + d]) for i in range(len(hists) - d)])
                    for d in CDC_DISTANCES if len(hists) > d]
    return float(np.mean(per_distance)) if per_distance else 0.0


def _run(propagator, grays, keyframes):
    started = time.perf_counter()
    out = [rgb for _, rgb in propagator.propagate(grays, keyframes)]
    return out, len(grays) / (time.perf_counter() - started)


def _chroma(frames) -> float:
    """Mean a/b magnitude (Lab) over frames."""
    return float(np.mean([np.linalg.norm(rgb_to_lab(as_float(f))[..., 1:], axis=2).mean() for f in frames]))


# The engine (fusion network with the matched candidate, then the edge-aware solve), the engine as first
# shipped (its three-candidate network, no solve: the reference the model card's targets are measured
# against), the engine without the solve (refine=False), and flow chaining.
FIRST_SHIPPED = WEIGHTS.with_name("propagation-v1.pt")
METHODS = {"new": dict(method="cnn"), "shipped": dict(method="cnn", weights=FIRST_SHIPPED, refine=False),
           "unrefined": dict(method="cnn", refine=False), "flow": dict(method="flow")}
DRIFT_DISTANCES = (1, 5, 10, 20, 30, 50, 75, 100, 149)


def evaluate(clips_dir: Path, interval: int = 30, plot: Path | None = None, device: str = "cpu", log=print) -> dict:
    """Per clip: PSNR on non-key frames with keyframes every `interval` (new engine and flow chaining),
    chroma strength and CDC flicker against the truth's; with the first frame as the only keyframe,
    PSNR by distance from it (new and shipped engine). clips_dir holds one folder of color frames per clip.
    Raises InputError when there is no clip folder."""
    clip_dirs = sorted(p for p in Path(clips_dir).iterdir() if p.is_dir()) if Path(clips_dir).is_dir() else []
    if not clip_dirs:
        raise InputError(f"no clip folders in {clips_dir}")
    engines = {name: ShotPropagator.load(device=device, **METHODS[name]) for name in ("new", "shipped", "flow")}
    rows, drift = [], {"new": {}, "shipped": {}}
    log(f"{'clip':40s} {'frames':>6s} {'PSNR new':>8s} {'PSNR flow':>9s} {'gain':>6s} {'chroma':>6s} "
        f"{'CDC new':>8s} {'CDC gt':>8s} {'CDC/gt':>6s} {'fps new':>7s}")
    for clip in clip_dirs:
        color = [read_image(p, color=True) for p in image_files(clip)]
        if len(color) < 2:
            continue
        grays = [to_uint8(to_luma(f)) for f in color]
        keys = sorted(set(range(0, len(color), interval)) | {len(color) - 1})
        keyframes = {i: color[i] for i in keys}
        between = [i for i in range(len(color)) if i not in keyframes]
        row = dict(clip=clip.name, frames=len(color), cdc_gt=cdc(color))
        for name in ("new", "flow"):
            out, fps = _run(engines[name], grays, keyframes)
            row[f"psnr_{name}"] = float(np.mean([psnr(out[i], color[i]) for i in between]))
            row[f"cdc_{name}"], row[f"fps_{name}"] = cdc(out), fps
            if name == "new":
                row["chroma"] = _chroma([out[i] for i in between]) / max(_chroma([color[i] for i in between]), 1e-6)
        for name in drift:
            single, _ = _run(engines[name], grays, {0: color[0]})
            for distance in range(1, len(color)):
                drift[name].setdefault(distance, []).append(psnr(single[distance], color[distance]))
        row["gain"] = row["psnr_new"] - row["psnr_flow"]
        row["cdc_ratio"] = row["cdc_new"] / max(row["cdc_gt"], 1e-12)
        rows.append(row)
        log(f"{clip.name[:40]:40s} {row['frames']:6d} {row['psnr_new']:8.2f} {row['psnr_flow']:9.2f} {row['gain']:+6.2f} "
            f"{row['chroma']:6.3f} {row['cdc_new']:8.5f} {row['cdc_gt']:8.5f} {row['cdc_ratio']:6.3f} {row['fps_new']:7.1f}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("clip", "frames")}
    log(f"{'average':40s} {sum(r['frames'] for r in rows):6d} {mean['psnr_new']:8.2f} {mean['psnr_flow']:9.2f} "
        f"{mean['gain']:+6.2f} {mean['chroma']:6.3f} {mean['cdc_new']:8.5f} {mean['cdc_gt']:8.5f} {mean['cdc_ratio']:6.3f} "
        f"{mean['fps_new']:7.1f}")
    log(f"gain over flow chaining: {mean['gain']:+.2f} dB on average, {min(r['gain'] for r in rows):+.2f} dB on the worst "
        f"clip; chroma strength / truth's: worst {min(r['chroma'] for r in rows):.3f}; CDC / truth's: worst "
        f"{max(r['cdc_ratio'] for r in rows):.3f}")
    curves = {name: {d: float(np.mean(v)) for d, v in sorted(per.items())} for name, per in drift.items()}
    for distance in DRIFT_DISTANCES:
        if distance in curves["new"]:
            log(f"one keyframe, distance {distance:3d}: PSNR new {curves['new'][distance]:.2f}, shipped "
                f"{curves['shipped'][distance]:.2f}, gain {curves['new'][distance] - curves['shipped'][distance]:+.2f} dB "
                f"(over {len(drift['new'][distance])} clips)")
    if plot:
        _plot(curves, {name: {d: len(v) for d, v in per.items()} for name, per in drift.items()}, plot)
        log(f"drift plot written to {plot}")
    return dict(rows=rows, mean=mean, drift=curves)


def _plot(curves, counts, path: Path) -> None:
    import matplotlib  # only for the plot: the evaluation runs without it

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name, style in (("new", "-"), ("shipped", "--")):
        distances = [d for d in curves[name] if counts[name][d] >= 3]  # skip the tail few clips reach
        ax.plot(distances, [curves[name][d] for d in distances], style, label=f"{name}")
    ax.set_xlabel("distance from the only keyframe (frames)")
    ax.set_ylabel("PSNR (dB), mean over clips")
    ax.set_title("Drift with one keyframe (the first frame)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def contact_sheet(frames, keyframes: dict[int, np.ndarray], show: list[int], path: Path, log=print) -> Path:
    """A PNG of frames `show` (columns) as the engine as first shipped, the engine now and the engine
    now without the edge-aware solve color them (rows), with the quality check's verdict of each on the frames
    shown. frames: uint8 luma H x W; keyframes: {index: uint8 RGB}. Raises InputError for a frame
    number outside the shot."""
    if any(not 0 <= i < len(frames) for i in show):
        raise InputError(f"frames to show must lie in 0..{len(frames) - 1}")
    label_height = 22
    rows = []
    for name in ("shipped", "new", "unrefined"):
        propagator = ShotPropagator.load(**METHODS[name])
        out = {i: rgb for i, rgb in propagator.propagate(frames, keyframes) if i in show}
        report = assess(out.items(), keyframes)
        log(f"{name}: quality check on the frames shown: {report.verdict}; "
            + "; ".join(f"{f.index}: crossing {f.crossing:.4f} blocks {f.blocks:.4f} strength {f.strength:.2f}"
                        for f in report.frames))
        tiles = []
        for i in show:
            tile = cv2.cvtColor(out[i], cv2.COLOR_RGB2BGR)
            bar = np.zeros((label_height, tile.shape[1], 3), np.uint8)
            text = f"{name} engine, frame {i}" + (" (keyframe)" if i in keyframes else "")
            cv2.putText(bar, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(np.vstack([bar, tile]))
        rows.append(np.hstack(tiles))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(rows)):
        raise InputError(f"could not write {path}")
    log(f"contact sheet written to {path}")
    return Path(path)


def synthetic_shot(width: int, height: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """A colored, textured scene under a drifting, turning camera (uint8 RGB frames)."""
    rng = np.random.default_rng(seed)
    big = (int(width * 1.5), int(height * 1.5))
    base = cv2.resize((rng.random((big[1] // 24, big[0] // 24, 3)) * 255).astype(np.uint8), big,
                      interpolation=cv2.INTER_CUBIC)
    detail = cv2.resize((rng.random((big[1] // 4, big[0] // 4)) * 60).astype(np.uint8), big, interpolation=cv2.INTER_LINEAR)
    scene = np.clip(base.astype(np.int16) + detail[..., None] - 30, 0, 255).astype(np.uint8)
    frames = []
    for t in range(count):
        matrix = cv2.getRotationMatrix2D((big[0] / 2, big[1] / 2), 0.2 * t, 1.0)
        matrix[:, 2] += [-(big[0] - width) / 2 + 2.0 * t, -(big[1] - height) / 2 + 1.0 * t]
        frames.append(cv2.warpAffine(scene, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return frames


def benchmark(width: int, height: int, count: int = 60, device: str = "cpu", log=print) -> dict:
    color = synthetic_shot(width, height, count)
    grays = [to_uint8(to_luma(f)) for f in color]
    keyframes = {i: color[i] for i in (0, count // 2, count - 1)}
    log(f"benchmark: {count} frames at {width}x{height}, keyframes {sorted(keyframes)}, device {device}, "
        f"torch threads {torch.get_num_threads()}")
    results = {}
    for name, options in METHODS.items():
        propagator = ShotPropagator.load(device=device, **options)
        list(propagator.propagate(grays[:4], {0: color[0]}))  # warm-up
        _, fps = _run(propagator, grays, keyframes)
        results[name] = fps
        log(f"{name}: {fps:.1f} frames per second")
    return results
