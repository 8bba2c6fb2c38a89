"""Training of the keyframe network (resumable, logs losses, writes validation figures).

Pipeline: pack photos + sampled video frames at 256x256 (.data/), precompute the frozen
backbone's features once per packed image, then train the head on aligned random
crops with freshly simulated hints every step, each sample starting from its points regressed
in feature space (the engine's starting answer). Every few minutes a checkpoint, the
shipped weights file, validation PSNRs, a figure and the loss curve are written.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inference import color
from inference.metrics import psnr, sha256_file
from inference.keyframe import data
from inference.keyframe.bins import ab_bins, rebalance_weights, soft_encode
from inference.keyframe.effort import peak_points
from inference.keyframe.engine import START, KeyframeColorizer
from inference.keyframe.evaluate import simulated_hints
from inference.keyframe.model import BACKBONE_TAPS, KeyframeNet
from inference.keyframe.regress import Points, plausibility, regress, starting_answer, stroke_regions

log = logging.getLogger("keyframe.train")
STRIDES = (8, 16, 32)
VAL_HINTS = (1, 10, 100)


def backbone_features(model: KeyframeNet, images: np.ndarray, path: Path, batch: int = 16):
    """Frozen-backbone features of every packed image, cached as float16 .npy files."""
    paths = [path.with_name(f"{path.stem}-s{s}.npy") for s in STRIDES]
    if all(p.exists() for p in paths):
        return [np.load(p, mmap_mode="r") for p in paths]
    n, side = len(images), images.shape[1]
    arrays = [np.lib.format.open_memmap(p.with_suffix(".tmp.npy"), "w+", np.float16, (n, c, side // s, side // s))
              for p, (_, c), s in zip(paths, BACKBONE_TAPS, STRIDES)]
    with torch.no_grad():
        for i in range(0, n, batch):
            luma = torch.from_numpy(np.stack([color.to_luma(im) for im in images[i : i + batch]]))[:, None]
            for array, feat in zip(arrays, model.backbone(luma)):
                array[i : i + batch] = feat.numpy().astype(np.float16)
            if i % (batch * 20) == 0:
                log.info("backbone features %d/%d", i, n)
    for array, p in zip(arrays, paths):
        array.flush()
        del array
        p.with_suffix(".tmp.npy").rename(p)
    return [np.load(p, mmap_mode="r") for p in paths]


def color_prior(images: np.ndarray, count: int = 400) -> np.ndarray:
    """Empirical a/b bin histogram of (a sample of) the training images."""
    centres = ab_bins()
    counts = np.zeros(len(centres), np.float64)
    for i in np.linspace(0, len(images) - 1, min(count, len(images))).astype(int):
        ab = color.rgb_to_lab(images[i][::4, ::4])[..., 1:].reshape(-1, 2)
        nearest = ((ab[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        counts += np.bincount(nearest, minlength=len(centres))
    return counts


def annotator_points(rng, feats, luma, ab, regions, per_round: int = 5, max_rounds: int = 8, probs=None):
    """Points as the effort benchmark's worst-error annotator places them (`effort.annotate`):
    rounds of `per_round` 5x5 patches where the result is most wrong, the feature-space
    regression standing in for the engine's result. Its layouts (points crowded on small,
    saturated details and edges) are rare among random points, and on them the network's
    first points used to lower the PSNR. probs: optional (Q, h, w) hint-free a/b-bin
    distribution that limits each point's reach (`regress.plausibility`), as in the engine.
    Returns centres (ys, xs), their hint planes (a/b HxWx2, mask HxW; `data.point_hints`) and
    the regression of the last round's points: (a/b HxWx2, density HxW)."""
    taken = np.zeros(luma.shape, bool)
    ys, xs = [], []
    regressed = regress(feats, luma, Points(np.zeros((0, 2)), np.zeros((0, 2))), regions)
    for _ in range(int(rng.integers(1, max_rounds + 1))):
        for y, x in peak_points(((regressed[0] - ab) ** 2).sum(-1), taken, per_round):
            ys.append(y), xs.append(x)
        planes = data.point_hints(ab, ys, xs, [5] * len(ys))
        regressed = _regress(feats, luma, data.hint_points(planes[0], ys, xs), regions, probs)
    return ys, xs, planes, regressed


def _regress(feats, luma, points, regions, probs):
    """`regress`, each point's reach limited by the hint-free distribution probs when given."""
    reach = None if probs is None or not len(points) else plausibility(probs, points, luma.shape)
    return regress(feats, luma, points, regions, reach=reach)


@torch.no_grad()
def hint_free_probs(model, luma, boundary, feats) -> torch.Tensor:
    """(B, Q, H/4, W/4) float32: the network's a/b-bin distribution without points, as the engine
    computes it (`KeyframeNet.without_points`, in eval mode), for a batch: luma and boundary
    (B, 1, H, W), feats the backbone features of the batch."""
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    _, _, logits = model.without_points(luma.to(device), boundary.to(device), [f.to(device) for f in feats])
    model.train(was_training)
    return torch.softmax(logits.float(), 1).cpu()


def make_batch(rng, images, feats, indices, crop, annotated: float = 0.0, model=None):
    """A batch of aligned random crops with fresh simulated hints, their cropped backbone
    features and the engine's starting answer (the points regressed in feature space).
    A share `annotated` of the samples take the worst-error annotator's points
    (`annotator_points`) instead of random ones. With `model`, each point reaches only as far
    as that network without points finds its color plausible (`hint_free_probs`), as in the
    engine."""
    side = images.shape[1]
    samples, point_sets, feat_batches = [], [], [[] for _ in feats]
    for i in indices:
        y, x = (rng.integers(0, (side - crop) // 32 + 1, 2) * 32).tolist()
        sample, points = data.training_sample(rng, images[i, y : y + crop, x : x + crop])
        for out, f, s in zip(feat_batches, feats, STRIDES):
            out.append(torch.from_numpy(np.asarray(f[i, :, y // s : (y + crop) // s, x // s : (x + crop) // s],
                                                   np.float32)))
        samples.append(sample)
        point_sets.append(points)
    feat_batches = [torch.stack(f) for f in feat_batches]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    luma, boundary = (t(np.stack([s[k] for s in samples]))[:, None] for k in (0, 4))
    probs = hint_free_probs(model, luma, boundary, feat_batches) if model is not None else [None] * len(samples)
    planes, starts = [], []
    for j, ((luma_j, ab, hint, mask, boundary_j), points) in enumerate(zip(samples, point_sets)):
        crops = [f[j : j + 1] for f in feat_batches]
        regions = stroke_regions(boundary_j)
        if rng.random() < annotated:
            _, _, (hint, mask), regressed = annotator_points(rng, crops, luma_j, ab, regions, probs=probs[j])
        else:
            regressed = _regress(crops, luma_j, points, regions, probs[j])
        planes.append((ab, hint, mask))
        starts.append(starting_answer(*regressed))
    ab, hint, mask = (np.stack(p) for p in zip(*planes))
    start = tuple(torch.cat(s) for s in zip(*starts))
    return (luma, t(ab).permute(0, 3, 1, 2), t(hint).permute(0, 3, 1, 2), t(mask)[:, None], boundary,
            feat_batches, start)


def losses(model, batch, class_weights):
    luma, ab, hint, mask, boundary, feats, start = batch
    pred, _, logits = model(luma, hint, mask, boundary, with_logits=True, feats=feats, start=start)
    reg = F.smooth_l1_loss(pred, ab, beta=5.0)
    target = soft_encode(F.avg_pool2d(ab, 4))
    pixel_w = class_weights[target.argmax(1)]
    cls = (-(target * F.log_softmax(logits, 1)).sum(1) * pixel_w).mean()
    return reg, cls


def _validation_cases(images, count: int):
    """(index, RGB, gray, n, hints) of the validation images at 1, 10 and 100 evaluation-protocol points."""
    for k in range(min(count, len(images))):
        rgb = np.asarray(images[k])
        gray = color.to_uint8(color.to_luma(rgb))
        for n in VAL_HINTS:
            yield k, rgb, gray, n, simulated_hints(np.random.default_rng([k, n]), rgb, n)


def reference_outputs(engine: KeyframeColorizer, images, count: int = 24) -> dict:
    """The shipped engine's results on the validation cases, {(index, n): RGB}: computed once a run."""
    return {(k, n): engine.colorize(gray, hints, long_side=rgb.shape[0])
            for k, rgb, gray, n, hints in _validation_cases(images, count)}


@torch.no_grad()
def validate(model, images, reference: dict, out_png: Path | None = None, count: int = 24):
    """PSNR of the whole engine with this network and of the shipped one (`reference_outputs`),
    at 1, 10 and 100 points of the evaluation protocol (`evaluate.simulated_hints`)."""
    model.eval()
    engine = KeyframeColorizer(model)
    scores = {n: [[], []] for n in VAL_HINTS}
    rows = []
    for k, rgb, gray, n, hints in _validation_cases(images, count):
        outs = [engine.colorize(gray, hints, long_side=rgb.shape[0]), reference[(k, n)]]
        for s, o in zip(scores[n], outs):
            s.append(psnr(o, rgb))
        if k < 6 and n == 10:
            shown = np.repeat(gray[..., None], 3, 2)
            for p in hints.points:
                cv2.circle(shown, (round(p.x), round(p.y)), 3, tuple(int(v) for v in p.color), -1)
            rows.append(np.concatenate([shown, outs[1], outs[0], rgb], 1))
    model.train()
    if out_png is not None and rows:
        cv2.imwrite(str(out_png), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    return {n: (float(np.mean(c)), float(np.mean(p))) for n, (c, p) in scores.items()}


def plot_curve(history: list[dict], path: Path):
    import matplotlib  # only where a plot is drawn: it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [h["step"] for h in history if "reg" in h]
    if steps:
        a.plot(steps, [h["reg"] for h in history if "reg" in h], label="a/b regression (Huber)")
        a.plot(steps, [h["cls"] for h in history if "cls" in h],
               label=f"{len(ab_bins())}-bin cross-entropy (rebalanced)")
        a.legend()
    a.set_xlabel("step"), a.set_title("training loss")
    val = [h for h in history if "val" in h]
    for n in VAL_HINTS:
        b.plot([h["step"] for h in val], [h["val"][str(n)][0] for h in val], marker="o", label=f"engine, {n} points")
        b.plot([h["step"] for h in val], [h["val"][str(n)][1] for h in val], ls="--", label=f"shipped, {n} points")
    b.set_xlabel("step"), b.set_ylabel("PSNR (dB)"), b.set_title("validation"), b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)




def export(model, path: Path, meta: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state": {k: v.half() if v.is_floating_point() else v for k, v in model.head_state_dict().items()},
                "meta": meta}, tmp)
    tmp.rename(path)


def train(folders, data_dir: Path, run_dir: Path, weights: Path, steps: int, batch: int = 16, crop: int = 192,
          lr: float = 1e-3, device: str = "cpu", threads: int = 1, checkpoint_minutes: float = 6.0,
          init: Path | None = None, annotated: float = 0.0):
    torch.set_num_threads(threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    train_images = data.pack(folders, data_dir / "keyframe-train-256.npy", validation=False)
    val_images = data.pack(folders, data_dir / "keyframe-val-256.npy", validation=True)
    model = KeyframeNet()
    feats = backbone_features(model, train_images, data_dir / "keyframe-train-256.npy")
    counts = color_prior(train_images)
    class_weights = torch.from_numpy(rebalance_weights(counts))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    ckpt_path = run_dir / "checkpoint.pt"
    step, history = 0, []
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, history = ckpt["step"], ckpt["history"]
        log.info("resumed at step %d", step)
    elif init is not None:
        # Start from other weights (new optimizer state, the schedule from its start).
        blob = torch.load(init, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() for k, v in blob["state"].items()}, strict=False)
        log.info("initialized from %s (trained %s steps)", init, blob.get("meta", {}).get("step", "?"))
    model.to(device).train()
    reference = reference_outputs(KeyframeColorizer.load(), val_images)  # before a checkpoint overwrites it
    class_weights = class_weights.to(device)
    log.info("training: %d images (%d validation), %d trainable parameters, batch %d, crop %d, to step %d",
             len(train_images), len(val_images), sum(p.numel() for p in params), batch, crop, steps)

    def schedule(s):
        warm = min(1.0, (s + 1) / 100)
        return warm * (0.03 + 0.97 * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps)))

    def checkpoint():
        val = validate(model, val_images, reference, run_dir / f"val-step{step:05d}.png")
        history.append({"step": step, "val": {str(n): v for n, v in val.items()}})
        log.info("step %d validation PSNR (engine / shipped engine): %s", step,
                 "  ".join(f"{n} hints {c:.2f}/{p:.2f}" for n, (c, p) in val.items()))
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "history": history},
                   ckpt_path.with_suffix(".tmp"))
        ckpt_path.with_suffix(".tmp").rename(ckpt_path)
        meta = {"step": step, "start": START, "reach": "plausibility", "batch": batch, "crop": crop,
                "annotated": annotated, "train_images": len(train_images), "val_images": len(val_images),
                "validation": history[-1]["val"], "device": device}
        export(model, weights, meta)
        plot_curve(history, run_dir / "loss.png")
        (run_dir / "history.json").write_text(json.dumps(history))

    rng = np.random.default_rng(step)
    last_ckpt, t0, window = time.time(), time.time(), []
    while step < steps:
        for g in opt.param_groups:
            g["lr"] = lr * schedule(step)
        b = make_batch(rng, train_images, feats, rng.integers(0, len(train_images), batch), crop, annotated, model)
        b = [x.to(device) if torch.is_tensor(x) else [f.to(device) for f in x] for x in b]
        reg, cls = losses(model, b, class_weights)
        loss = reg + 0.3 * cls
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        window.append((reg.item(), cls.item()))
        if step % 25 == 0:
            r, c = np.mean(window, 0)
            history.append({"step": step, "reg": float(r), "cls": float(c)})
            log.info("step %d/%d  reg %.3f  cls %.3f  lr %.2e  %.2f s/step", step, steps, r, c,
                     opt.param_groups[0]["lr"], (time.time() - t0) / len(window))
            window, t0 = [], time.time()
        if time.time() - last_ckpt > checkpoint_minutes * 60 or step == steps:
            checkpoint()
            last_ckpt = time.time()
    log.info("done at step %d; weights %s sha256 %s", step, weights, sha256_file(weights))
    return 0
