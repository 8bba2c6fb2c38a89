"""Evaluation (CNN against the flow method on clips of color frames) and the speed benchmark."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from inference.color import to_luma, to_uint8
from inference.metrics import psnr

from .engine import ShotPropagator
from .files import InputError, image_files, read_image

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


def evaluate(clips_dir: Path, interval: int = 30, plot: Path | None = None, device: str = "cpu", log=print) -> dict:
    clip_dirs = sorted(p for p in Path(clips_dir).iterdir() if p.is_dir()) if Path(clips_dir).is_dir() else []
    if not clip_dirs:
        raise InputError(f"no clip folders in {clips_dir}")
    methods = {"cnn": ShotPropagator.load(device=device, method="cnn"), "flow": ShotPropagator.load(method="flow")}
    rows, drift = [], {name: {} for name in methods}
    log(f"{'clip':44s} {'frames':>6s} {'PSNR cnn':>9s} {'PSNR flow':>9s} {'CDC cnn':>8s} {'CDC flow':>8s} "
        f"{'CDC gt':>8s} {'fps cnn':>8s} {'fps flow':>8s}")
    for clip in clip_dirs:
        color = [read_image(p, color=True) for p in image_files(clip)]
        if len(color) < 2:
            continue
        grays = [to_uint8(to_luma(f)) for f in color]
        keys = sorted(set(range(0, len(color), interval)) | {len(color) - 1})
        keyframes = {i: color[i] for i in keys}
        row = dict(clip=clip.name, frames=len(color), cdc_gt=cdc(color))
        for name, propagator in methods.items():
            out, fps = _run(propagator, grays, keyframes)
            row[f"psnr_{name}"] = float(np.mean([psnr(out[i], color[i]) for i in range(len(color)) if i not in keyframes]))
            row[f"cdc_{name}"], row[f"fps_{name}"] = cdc(out), fps
            single, _ = _run(propagator, grays, {0: color[0]})
            for distance in range(1, len(color)):
                drift[name].setdefault(distance, []).append(psnr(single[distance], color[distance]))
        rows.append(row)
        log(f"{clip.name[:44]:44s} {row['frames']:6d} {row['psnr_cnn']:9.2f} {row['psnr_flow']:9.2f} "
            f"{row['cdc_cnn']:8.5f} {row['cdc_flow']:8.5f} {row['cdc_gt']:8.5f} {row['fps_cnn']:8.1f} {row['fps_flow']:8.1f}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("clip", "frames")}
    log(f"{'average':44s} {sum(r['frames'] for r in rows):6d} {mean['psnr_cnn']:9.2f} {mean['psnr_flow']:9.2f} "
        f"{mean['cdc_cnn']:8.5f} {mean['cdc_flow']:8.5f} {mean['cdc_gt']:8.5f} {mean['fps_cnn']:8.1f} {mean['fps_flow']:8.1f}")
    gain = [r["psnr_cnn"] - r["psnr_flow"] for r in rows]
    log(f"PSNR gain of the CNN over flow: {np.mean(gain):+.2f} dB on average, {min(gain):+.2f} dB on the worst clip; "
        f"CDC cnn / gt = {mean['cdc_cnn'] / max(mean['cdc_gt'], 1e-12):.3f}, flow / gt = "
        f"{mean['cdc_flow'] / max(mean['cdc_gt'], 1e-12):.3f}")
    curves = {name: {d: float(np.mean(v)) for d, v in sorted(per.items())} for name, per in drift.items()}
    for distance in (1, 5, 10, 20, 30, 50, 75, 100, 149):
        if distance in curves["cnn"]:
            log(f"one keyframe, distance {distance:3d}: PSNR cnn {curves['cnn'][distance]:.2f}, "
                f"flow {curves['flow'][distance]:.2f} (over {len(drift['cnn'][distance])} clips)")
    if plot:
        _plot(curves, {name: {d: len(v) for d, v in per.items()} for name, per in drift.items()}, plot)
        log(f"drift plot written to {plot}")
    return dict(rows=rows, mean=mean, drift=curves)


def _plot(curves, counts, path: Path) -> None:
    import matplotlib  # only for the plot: the evaluation runs without it

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name, style in (("cnn", "-"), ("flow", "--")):
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
    for method in ("cnn", "flow"):
        propagator = ShotPropagator.load(device=device, method=method)
        list(propagator.propagate(grays[:4], {0: color[0]}))  # warm-up
        _, fps = _run(propagator, grays, keyframes)
        results[method] = fps
        log(f"{method}: {fps:.1f} frames per second")
    return results
