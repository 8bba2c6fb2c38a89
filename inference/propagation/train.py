"""Training the fusion CNN on packed clips (see data.py), resumable from its last checkpoint.

A sample is a stretch of a clip: an origin keyframe, a walk of D frames away from it
(forward or backward in time) and, three times in four, a target keyframe at its end.
The network is unrolled over T consecutive frames of the walk, feeding each step its own
previous output warped by the flow, exactly as the engine does (the step before the
window is a stand-in: the classical blend, or that blend pulled toward the truth). Loss:
MSE (or L1) on a/b. Candidates come from the same functions the engine uses (features.py,
match.py): the matched candidate is computed from frozen features of the working-resolution
frames, as at render time.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from inference.media import read_frames

from .data import PACKED, WORK_LONG_SIDE, load_clip, pack, pack_clip, video_split
from .engine import WEIGHTS
from .features import absent, flow_blend, fused_confidence, keyframe_chain, network_input, previous_candidate
from .match import FeatureMatcher, match
from .network import AB_SCALE, FusionNet, widen

CHECKPOINTS = Path(__file__).resolve().parents[2] / ".train" / "propagation"
MAX_DISTANCE = 60
CROP = (128, 160)
# "mse" matches what PSNR measures (a wrong pick costs its square); "l1" was the first stage's.
LOSSES = {"l1": torch.abs, "mse": torch.square}  # per-pixel, of the a/b difference


class Walk:
    """Arrays of one packed clip seen in processing order from an origin frame."""

    def __init__(self, clip, origin: int, step: int):
        self.clip, self.origin, self.step = clip, origin, step
        forward = step > 0
        self._prev, self._next = ("to_prev", "to_next") if forward else ("to_next", "to_prev")
        self._cprev, self._cnext = ("conf_prev", "conf_next") if forward else ("conf_next", "conf_prev")

    def index(self, j: int) -> int:
        return self.origin + self.step * j

    def luma(self, j):
        return np.asarray(self.clip["luma"][self.index(j)], np.float32)

    def ab(self, j):
        return np.asarray(self.clip["ab"][self.index(j)], np.float32)

    def to_prev(self, j):  # flow j -> j-1 and its confidence
        i = self.index(j)
        return np.asarray(self.clip[self._prev][i], np.float32), np.asarray(self.clip[self._cprev][i], np.float32)

    def to_next(self, j):  # flow j -> j+1
        i = self.index(j)
        return np.asarray(self.clip[self._next][i], np.float32), np.asarray(self.clip[self._cnext][i], np.float32)


def make_sample(clip, rng: np.random.Generator, steps: int, matcher: FeatureMatcher):
    """One unrollable training sample: per window frame the fixed candidates, plus what the recurrence needs."""
    count = clip["luma"].shape[0]
    two_sided = rng.random() < 0.75
    longest = min(MAX_DISTANCE, count - 1)
    low = 2 if two_sided else 1
    distance = int(min(longest, max(low, round(math.exp(rng.uniform(math.log(low), math.log(longest + 0.99)))))))
    step = 1 if rng.random() < 0.5 else -1
    origin = int(rng.integers(0, count - distance)) if step > 0 else int(rng.integers(distance, count))
    walk = Walk(clip, origin, step)
    last = distance if two_sided else distance + 1  # walked positions 1..last-1
    window = min(steps, last - 1)
    j0 = int(rng.integers(1, last - window + 1))
    positions = range(max(1, j0 - 1), j0 + window)
    origins = {}
    chain = keyframe_chain(walk.ab(0), walk.luma(0), ((walk.luma(j), *walk.to_prev(j)) for j in range(1, j0 + window)))
    for j, cand in zip(range(1, j0 + window), chain):
        if j in positions:
            origins[j] = cand
    targets = {}
    if two_sided:
        chain = keyframe_chain(walk.ab(last), walk.luma(last),
                               ((walk.luma(j), *walk.to_next(j)) for j in range(last - 1, positions[0] - 1, -1)))
        for j, cand in zip(range(last - 1, positions[0] - 1, -1), chain):
            targets[j] = cand
    height, width = walk.luma(0).shape
    frames = []
    for j in positions:
        target = targets.get(j) or absent(height, width)
        to_target = (last - j) if two_sided else None
        frames.append(dict(j=j, luma=walk.luma(j), gt=walk.ab(j), origin=origins[j], target=target,
                           to_target=to_target, flow=walk.to_prev(j),
                           blend=flow_blend(origins[j], target, j, to_target),
                           carried=fused_confidence(origins[j], target, j, to_target)))
    keys = [(matcher.features(walk.luma(0)), walk.luma(0), walk.ab(0))]
    if two_sided:
        keys.append((matcher.features(walk.luma(last)), walk.luma(last), walk.ab(last)))
    for f in frames:
        flows = [f["origin"].flow] + ([f["target"].flow] if two_sided else [])
        f["matched"] = match(f["luma"], matcher.features(f["luma"]), [(*key, flow) for key, flow in zip(keys, flows)])
    if j0 == 1:
        start_prev, start_luma = walk.ab(0), walk.luma(0)
    else:
        # The recurrence's state before the window: at render time it has carried the origin's
        # colors a long way, so it may be stale; half the time it is the origin candidate itself.
        before = frames.pop(0)
        start_prev = before["blend"] if rng.random() < 0.5 else before["origin"].ab
        start_luma = before["luma"]
    ch, cw = min(CROP[0], height) // 8 * 8, min(CROP[1], width) // 8 * 8
    y, x = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
    return dict(frames=frames, prev=start_prev.astype(np.float32), prev_luma=start_luma, crop=(y, x, ch, cw))


def pixel_loss(out: torch.Tensor, target: torch.Tensor, carried: torch.Tensor, loss_name: str = "mse",
               uncarried_weight: float = 0.0) -> torch.Tensor:
    """The a/b loss of a batch: out and target (B, 2, H, W) in AB_SCALE units, carried (B, H, W) the
    keyframes' flow candidates' confidence in [0, 1] (`features.fused_confidence`).

    A pixel counts 1 + uncarried_weight * (1 - carried), the weights normalized to a mean of 1:
    occluded and newly visible pixels are few, so with uniform weights their errors (trails, carried
    colors in uncovered background) count for little. With uncarried_weight 0 it is the plain mean.
    """
    weight = 1.0 + uncarried_weight * (1.0 - carried[:, None])
    return (LOSSES[loss_name](out - target) * weight).mean() / weight.mean()


def unroll(model: FusionNet, samples: list[dict], on_step: Callable[[torch.Tensor], None] | None = None,
           loss_name: str = "mse", uncarried_weight: float = 0.0):
    """Run the network over every sample's window, each step fed its previous output; returns the loss per step.

    Windows may differ in length: each step batches the samples that still have a frame.
    uncarried_weight: see `pixel_loss`.
    """
    states = [(s["prev"], s["prev_luma"]) for s in samples]
    losses = []
    for t in range(max(len(s["frames"]) for s in samples)):
        active = [i for i, s in enumerate(samples) if len(s["frames"]) > t]
        inputs, targets, carried = [], [], []
        for i in active:
            s, (prev_ab, prev_luma) = samples[i], states[i]
            f = s["frames"][t]
            y, x, h, w = s["crop"]
            previous = previous_candidate(prev_ab, prev_luma, f["luma"], *f["flow"])
            planes = network_input(f["luma"], f["origin"], f["target"], previous, f["matched"], f["j"], f["to_target"])
            inputs.append(planes[:, y : y + h, x : x + w])
            targets.append(f["gt"][y : y + h, x : x + w].transpose(2, 0, 1) / AB_SCALE)
            carried.append(f["carried"][y : y + h, x : x + w])
        x_t, y_t = torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets).astype(np.float32))
        out = model(x_t)
        loss = pixel_loss(out, y_t, torch.from_numpy(np.stack(carried).astype(np.float32)), loss_name, uncarried_weight)
        if on_step:
            on_step(loss * len(active) / len(samples))
        losses.append(float(loss.detach()))
        produced = out.detach().numpy() * AB_SCALE
        for i, o in zip(active, produced):
            f = samples[i]["frames"][t]
            y, x, h, w = samples[i]["crop"]
            full = f["blend"].copy()  # outside the crop the stand-in is the classical blend
            full[y : y + h, x : x + w] = o.transpose(1, 2, 0)
            states[i] = (full, f["luma"])
    return losses


def _batch_for(clips, rng, batch, steps, matcher):
    samples = [make_sample(clips[int(rng.integers(len(clips)))], rng, steps, matcher) for _ in range(batch)]
    ch = min(s["crop"][2] for s in samples)  # crops must agree in size within a batch
    cw = min(s["crop"][3] for s in samples)
    for s in samples:
        y, x, _, _ = s["crop"]
        s["crop"] = (y, x, ch, cw)
    return samples


def _as_is(batch):
    return batch


class _Batches(torch.utils.data.IterableDataset):
    """Endless training batches, built in a worker process while the network trains."""

    def __init__(self, folders, batch, steps, seed):
        self.folders, self.batch, self.steps, self.seed = folders, batch, steps, seed

    def __iter__(self):
        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        clips = [c for c in (load_clip(f) for f in self.folders) if c["luma"].shape[0] >= 3]
        rng = np.random.default_rng(self.seed)
        matcher = FeatureMatcher(torch.device("cpu"))
        while True:
            yield _batch_for(clips, rng, self.batch, self.steps, matcher)


def validation_clips(log=print):
    """Packed validation videos (packed on first use)."""
    _, val = video_split()
    clips = []
    for path in val:
        folder = PACKED / "validation" / path.stem
        if not (folder / "conf_next.npy").exists():
            pack_clip(list(read_frames(path)), folder)
            log(f"packed validation clip {path.name}")
        clips.append(load_clip(folder))
    return clips


def validate(model, val_batches) -> tuple[float, float]:
    """(network, classical blend) RMSE of a/b over fixed validation samples, in a/b units."""
    model.eval()
    net, blend = [], []
    with torch.no_grad():
        for samples in val_batches:
            net += unroll(model, samples, loss_name="mse")
            for s in samples:
                for f in s["frames"]:
                    y, x, h, w = s["crop"]
                    blend.append(np.square((f["blend"] - f["gt"])[y : y + h, x : x + w] / AB_SCALE).mean())
    model.train()
    return float(np.sqrt(np.mean(net))) * AB_SCALE, float(np.sqrt(np.mean(blend))) * AB_SCALE


def train(total_steps: int = 3000, batch: int = 8, steps: int = 3, lr: float = 1e-3, out: Path = CHECKPOINTS,
          seed: int = 0, log: Callable[[str], None] = print, weights: Path | None = None, loss: str = "mse",
          init: Path | None = None, uncarried_weight: float = 0.0) -> Path:
    cv2.setNumThreads(1)  # also keeps OpenCV's thread pool out of the data worker
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    folders = pack(log=log)  # training clips only: the split is made when packing
    val_rng = np.random.default_rng(12345)
    val = validation_clips(log)
    val_batches = [_batch_for(val, val_rng, 8, 4, FeatureMatcher(torch.device("cpu"))) for _ in range(4)]
    model = FusionNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    checkpoint = out / "last.pt"
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log(f"resumed at step {step}")
    elif init:
        # weights of a network with fewer candidates: each new one starts with a small share
        model.load_state_dict(widen(torch.load(init, weights_only=False)["model"], bias=-2.0))
        log(f"starting from the weights of {init}")
    # The batch stream is seeded by (seed, step it starts at), so a resumed run is reproducible too.
    loader = torch.utils.data.DataLoader(_Batches(folders, batch, steps, [seed, step]), batch_size=None, collate_fn=_as_is,
                                         num_workers=1, prefetch_factor=2, multiprocessing_context="spawn")
    history_path = out / "history.jsonl"
    started, running = time.time(), []
    model.train()
    for samples in loader:
        if step >= total_steps:
            break
        # cosine decay to 2% of the base rate
        for group in optimizer.param_groups:
            group["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / total_steps)))
        optimizer.zero_grad()
        # truncated through time: each step's recurrent input is detached
        losses = unroll(model, samples, on_step=lambda value: value.backward(), loss_name=loss,
                        uncarried_weight=uncarried_weight)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        running.append(np.mean(losses))
        if step % 25 == 0:
            rate = 25 / (time.time() - started)
            log(f"step {step}/{total_steps} loss ({loss}) {np.mean(running):.3g} "
                f"lr {optimizer.param_groups[0]['lr']:.2e} {rate:.2f} it/s")
            started, running = time.time(), []
        if step % 100 == 0 or step == total_steps:
            net, blend = validate(model, val_batches)
            log(f"step {step} validation a/b RMSE: network {net:.3f}, classical blend {blend:.3f}")
            with open(history_path, "a") as handle:
                handle.write(json.dumps(dict(step=step, val_net=net, val_blend=blend, time=time.time())) + "\n")
            state = dict(model=model.state_dict(), optimizer=optimizer.state_dict(), step=step)
            torch.save(state, out / "last.tmp")
            (out / "last.tmp").replace(checkpoint)
    target = weights or WEIGHTS
    export(checkpoint, target, unroll=steps, batch=batch, init=init, uncarried_weight=uncarried_weight)
    log(f"weights written to {target}")
    return target


def export(checkpoint: Path, target: Path, unroll: int, batch: int, init: Path | None = None,
           uncarried_weight: float = 0.0) -> None:
    """Strip a checkpoint to the weights the engine loads."""
    state = torch.load(checkpoint, weights_only=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(step=state["step"], data="shared videos (hash split, 1 in 6 held out) + synthetic photo clips",
                work_long_side=WORK_LONG_SIDE, unroll=unroll, batch=batch, init=str(init) if init else None,
                uncarried_weight=uncarried_weight)
    torch.save(dict(model=state["model"], config={}, meta=meta), target)
