"""ShotPropagator: color keyframes carried through a shot (see the package docstring for the API)."""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Callable, Iterator, Mapping

import cv2
import numpy as np
import torch

from inference.color import as_float, compose_lab, guided_upsample, rgb_to_lab, to_luma, to_uint8, with_luma, working_size
from inference.media import MIN_FRAME_SIDE

from .features import (Candidate, absent, detail_sources, flow_blend, fused_confidence, joint_confidence,
                       keyframe_chain, network_input, previous_candidate)
from .flow import MotionEstimator, consistency, pixel_grid, warp
from .match import FeatureMatcher, match
from .network import AB_SCALE, FusionNet, widen
from .solve import edge_aware_solve

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "propagation.pt"
WORK_LONG_SIDE = 320  # working resolution's long side: flow and network run there
# The smallest frame side taken (inference.media refuses smaller footage at upload), and the
# working frame's smallest side: DIS optical flow needs two 8-px patches across (a 4000x16 frame
# would otherwise be worked on at 320x8).
MIN_SIDE = MIN_FRAME_SIDE
METHODS = ("cnn", "flow")
# Luma-guided chroma upsampling; a small window keeps fine chroma detail (chosen on validation clips).
GUIDE_RADIUS, GUIDE_EPS = 2, 1e-3
# The solve holds each frame to the previous frame's solved chroma, carried by the flow, with this
# data weight where the flow is consistent and the luma agrees (a confidence-1 pixel weighs 10):
# colors stay steady where nothing moved (flicker), and follow the fused chroma where it is sure.
TEMPORAL = 1.0

Progress = Callable[[int, int], None]


def borrow_detail(detail: np.ndarray, flow: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """A keyframe's full-resolution chroma detail warped onto a frame by the working-resolution
    flow back to it (scaled up), times the per-pixel weight it gets there."""
    height, width = detail.shape[:2]
    scale = (width / weight.shape[1], height / weight.shape[0])
    xs, ys = pixel_grid(height, width)
    # The sampling maps are built plane by plane at full resolution: a 2-plane flow resized,
    # scaled and split would cost as much again.
    maps = []
    for plane, factor, grid in zip(cv2.split(flow.astype(np.float32)), scale, (xs, ys)):
        plane = cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)
        plane *= factor
        plane += grid
        maps.append(plane)
    out = cv2.remap(detail, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out *= cv2.resize(weight.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    return out


CONFIDENCE_LONG_SIDE = 80  # pixels: the stored confidence map's long side
LOW_CONFIDENCE = 0.5


@dataclasses.dataclass(frozen=True)
class FrameConfidence:
    """How far one propagated frame's colors can be trusted.

    map: uint8 h x w (long side CONFIDENCE_LONG_SIDE, aspect of the working resolution), 0..255 for
    confidence 0..1 -- flow consistency along the chain to the keyframes times warped-luma agreement,
    and where that is low, the feature match's confidence (features.joint_confidence; the flow
    method has no match). mean: mean confidence, 0..1. low: share of the frame below LOW_CONFIDENCE.
    Keyframes are 1 everywhere (KEYFRAME_CONFIDENCE, a 1x1 map).
    """
    map: np.ndarray
    mean: float
    low: float

    @classmethod
    def of(cls, confidence: np.ndarray) -> "FrameConfidence":
        """From an H x W float confidence in [0, 1] (the working resolution)."""
        height, width = confidence.shape
        scale = min(1.0, CONFIDENCE_LONG_SIDE / max(height, width))
        small = cv2.resize(confidence, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        return cls(np.round(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8), float(confidence.mean()),
                   float((confidence < LOW_CONFIDENCE).mean()))

    def summary(self) -> dict:
        """{"mean": float, "low": float}: JSON-safe, for a manifest."""
        return {"mean": round(self.mean, 4), "low": round(self.low, 4)}


KEYFRAME_CONFIDENCE = FrameConfidence(np.full((1, 1), 255, np.uint8), 1.0, 0.0)


class PropagationError(ValueError):
    """Inputs that cannot be propagated; the message is fit to show a user."""


class _Frames:
    """Uniform access to a sequence of frames or a callable index -> frame (read only when needed)."""

    def __init__(self, frames, count: int | None):
        if callable(frames):
            if count is None:
                raise PropagationError("a frame callable needs the frame count")
            self._get, self.count = frames, int(count)
        else:
            self._get, self.count = frames.__getitem__, len(frames) if count is None else int(count)
        if self.count < 1:
            raise PropagationError("the shot has no frames")
        self.shape = None  # (h, w), set from the keyframes

    def luma(self, index: int) -> np.ndarray:
        frame = np.asarray(self._get(index))
        if frame.shape[:2] != self.shape:
            raise PropagationError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                                   f"the keyframes are {self.shape[1]}x{self.shape[0]}")
        return to_luma(frame)


def stretches(count: int, keyframe_indices) -> list[tuple[int, int]]:
    """The independent pieces of a shot: [0, first key) and [key_i, key_i+1) ... [last key, count)."""
    keys = sorted(keyframe_indices)
    bounds = ([0] if keys[0] > 0 else []) + keys + [count]
    return list(zip(bounds[:-1], bounds[1:]))


class ShotPropagator:
    """Colors a shot from its keyframes; holds the network, loaded once."""

    def __init__(self, model: FusionNet | None, device: str = "cpu", long_side: int = WORK_LONG_SIDE,
                 refine: bool = True):
        self.model = model
        self.device = torch.device(device)
        self.long_side = long_side
        self.method = "flow" if model is None else "cnn"
        # The network fuses a matched candidate (match.py); the flow baseline does not match.
        self.matcher = FeatureMatcher(self.device) if model is not None else None
        # The edge-aware solve after fusion (refine): the network's chroma where it or the match is
        # confident, filled along the frame's own edges elsewhere. It gains PSNR on every validation clip
        # (model card). The flow baseline is never refined: it has no match to weigh its data by.
        self.refine = refine and model is not None

    @classmethod
    def load(cls, device: str = "cpu", method: str = "cnn", weights: str | Path | None = None,
             refine: bool = True) -> "ShotPropagator":
        """The engine on `device` ("cpu" or "cuda"): method "cnn" (the fusion network, weights from
        `weights` or the shipped file; a three-candidate file from before matching is widened and runs
        as trained) or "flow" (the classical blend, never refined); refine: the edge-aware solve after
        fusion. Raises PropagationError for an unknown method, a missing GPU, missing weights or
        weights that do not fit the network."""
        if method not in METHODS:
            raise PropagationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise PropagationError("device 'cuda' was asked for but no CUDA GPU is available")
        if method == "flow":
            return cls(None, device)
        path = Path(weights) if weights else WEIGHTS
        if not path.exists():
            raise PropagationError(f"propagation weights not found at {path}; run `colorproj train propagate`")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = FusionNet(**state.get("config", {}))
        try:
            # weights of the network before matching run exactly as they were trained (no share for the match)
            model.load_state_dict(widen(state["model"], bias=-1e4))
        except (RuntimeError, KeyError) as exc:
            raise PropagationError(f"{path} does not fit this engine's fusion network "
                                   f"(retrain with `colorproj train propagate`): {str(exc).splitlines()[0]}") from exc
        model.eval().to(device)
        return cls(model, device, refine=refine)

    # -- public API ------------------------------------------------------------------------

    def propagate(self, frames, keyframes: Mapping[int, np.ndarray], progress: Progress | None = None,
                  count: int | None = None, with_confidence: bool = False) -> Iterator[tuple]:
        """Yield (index, uint8 RGB) for every frame of the shot, in order; with_confidence=True:
        (index, uint8 RGB, FrameConfidence)."""
        source = _Frames(frames, count)
        keys = self._keyframes(source, keyframes)
        done = 0
        for start, end in stretches(source.count, keys):
            for item in self._stretch(source, keys, start, end):
                yield item if with_confidence else item[:2]
                done += 1
                if progress:
                    progress(done, source.count)

    def propagate_stretch(self, frames, keyframes: Mapping[int, np.ndarray], start: int, end: int,
                          progress: Progress | None = None, count: int | None = None,
                          with_confidence: bool = False) -> Iterator[tuple]:
        """Yield frames start..end-1 of one stretch (as listed by `stretches`), computed on its own
        (as propagate does, with_confidence included)."""
        source = _Frames(frames, count)
        keys = self._keyframes(source, keyframes)
        if (start, end) not in stretches(source.count, keys):
            raise PropagationError(f"[{start}, {end}) is not a stretch of this shot; "
                                   f"stretches are {stretches(source.count, keys)}")
        for done, item in enumerate(self._stretch(source, keys, start, end), 1):
            yield item if with_confidence else item[:2]
            if progress:
                progress(done, end - start)

    # -- internals -------------------------------------------------------------------------

    def _keyframes(self, source: _Frames, keyframes: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        if not keyframes:
            raise PropagationError("at least one color keyframe is needed")
        keys = {}
        for index, image in keyframes.items():
            index = int(index)
            if not 0 <= index < source.count:
                raise PropagationError(f"keyframe index {index} is outside the shot (0..{source.count - 1})")
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[2] != 3:
                raise PropagationError(f"keyframe {index} is not an RGB image")
            if min(image.shape[:2]) < MIN_SIDE:
                raise PropagationError(f"keyframe {index} is {image.shape[1]}x{image.shape[0]}; frames of at "
                                       f"least {MIN_SIDE} pixels on each side are needed")
            source.shape = source.shape or image.shape[:2]
            if image.shape[:2] != source.shape:
                raise PropagationError(f"keyframe {index} is {image.shape[1]}x{image.shape[0]}, "
                                       f"another keyframe is {source.shape[1]}x{source.shape[0]}")
            keys[index] = image
        return keys

    def _stretch(self, source: _Frames, keys: dict[int, np.ndarray], start: int, end: int):
        """Compute one stretch at the working resolution, then yield it at full resolution in frame order."""
        if start in keys:  # walk forward from the keyframe at `start` toward the next one (if any)
            origin = start
            walk = list(range(start + 1, end))
            target = end if end in keys else None
        else:  # before the first keyframe: walk backward from it
            origin = end
            walk = list(range(end - 1, start - 1, -1))
            target = None
        work = self._work_size(source.shape)
        order = [origin] + walk + ([target] if target is not None else [])
        lumas, key_lumas = {}, {}  # working resolution; full resolution for the stretch's keyframes
        for i in order:
            luma = source.luma(i)
            if i in keys:
                key_lumas[i] = luma
            lumas[i] = self._work_luma(luma, work)
        work_ab = {origin: self._work_ab(keys[origin], work)}
        borrowed, details, confidences = {}, {}, {}
        if walk:
            walked, borrowed, confidences = self._walk(order, lumas, keys, work, target is not None, work_ab[origin])
            work_ab.update(walked)
            details = {i: self._detail(key_lumas[i], keys[i], work) for i in key_lumas}  # what walked frames borrow
        for index in range(start, end):
            if index in keys:  # keyframes pass through with their own chroma at full resolution
                rgb = with_luma(key_lumas[index], as_float(keys[index]))
            else:
                luma = source.luma(index)
                ab = self._upsample(luma, work_ab.pop(index))
                for key, flow, weight in borrowed.pop(index):
                    ab += borrow_detail(details[key], flow, weight)
                rgb = compose_lab(luma, ab)
            yield index, to_uint8(rgb), confidences.pop(index, KEYFRAME_CONFIDENCE)

    def _walk(self, order, lumas, keys, work, has_target: bool, origin_ab):
        """a/b at the working resolution for every walked frame (order[1:-1] or order[1:]); per frame
        the keyframes whose full-resolution detail it borrows: [(keyframe index, flow to it, weight)];
        and per frame its FrameConfidence."""
        motion = MotionEstimator()
        u8 = {i: to_uint8(lumas[i]) for i in order}
        to_prev, to_next = [None], [None]  # per position in `order`; flows j -> j-1 and j-1 -> j
        conf_prev, conf_next = [None], [None]
        for j in range(1, len(order)):
            back, fwd = motion.pair(u8[order[j]], u8[order[j - 1]])
            to_prev.append(back)
            conf_prev.append(consistency(back, fwd))
            to_next.append(fwd)  # stored at j: the flow (j-1) -> j
            conf_next.append(consistency(fwd, back))
        last = len(order) - (1 if has_target else 0)  # walked positions are 1..last-1
        height, width = work
        targets = {}
        if has_target:
            target = order[-1]
            steps = ((lumas[order[j]], to_next[j + 1], conf_next[j + 1]) for j in range(last - 1, 0, -1))
            target_ab = self._work_ab(keys[target], work)
            chain = keyframe_chain(target_ab, lumas[target], steps)
            for j, cand in zip(range(last - 1, 0, -1), chain):
                # kept as float16 until used: a long stretch holds one per frame
                targets[j] = tuple(plane.astype(np.float16) for plane in (cand.ab, cand.confidence, cand.mismatch,
                                                                          cand.flow))
        steps = ((lumas[order[j]], to_prev[j], conf_prev[j]) for j in range(1, last))
        chain = keyframe_chain(origin_ab, lumas[order[0]], steps)
        result, borrowed, confidences = {}, {}, {}
        prev_ab = solved = origin_ab
        if self.matcher:  # keyframe features for matching, once per stretch
            with self._one_thread():
                key_features = [(self.matcher.features(lumas[order[0]]), lumas[order[0]], origin_ab)]
                if has_target:
                    key_features.append((self.matcher.features(lumas[order[-1]]), lumas[order[-1]], target_ab))
        for j, origin_cand in zip(range(1, last), chain):
            index = order[j]
            to_origin = j
            to_target = (last - j) if has_target else None
            if has_target:
                target_cand = Candidate(*(plane.astype(np.float32) for plane in targets.pop(j)))
            else:
                target_cand = absent(height, width)
            confidence = fused_confidence(origin_cand, target_cand, to_origin, to_target)
            if self.model is None:
                out = flow_blend(origin_cand, target_cand, to_origin, to_target)
            else:
                flows = [origin_cand.flow] + ([target_cand.flow] if has_target else [])
                matched = self._match(lumas[index], [(*key, flow) for key, flow in zip(key_features, flows)])
                prev = previous_candidate(prev_ab, lumas[order[j - 1]], lumas[index], to_prev[j], conf_prev[j])
                out = self._fuse(network_input(lumas[index], origin_cand, target_cand, prev, matched, to_origin,
                                               to_target))
                confidence = joint_confidence(confidence, matched, out)
            prev_ab = np.ascontiguousarray(out, dtype=np.float32)
            # The recurrence keeps feeding the network its own unrefined output (what it was trained on).
            if self.refine:
                held = (warp(solved, to_prev[j]), TEMPORAL * prev.trust())
                solved = edge_aware_solve(lumas[index], prev_ab, confidence, previous=held)
            result[index] = solved if self.refine else prev_ab
            confidences[index] = FrameConfidence.of(confidence)
            sources = detail_sources(origin_cand, target_cand, to_origin, to_target)  # origin first
            borrowed[index] = [(key, cand.flow.astype(np.float16), weight.astype(np.float16))
                               for key, (cand, weight) in zip((order[0], order[-1]), sources)]
        return result, borrowed, confidences

    def _match(self, luma: np.ndarray, keyframes) -> Candidate:
        """The matched candidate (match.py) on one CPU thread."""
        with self._one_thread():
            return match(luma, self.matcher.features(luma), keyframes)

    @contextlib.contextmanager
    def _one_thread(self):
        """Torch on one CPU thread: the small networks here gain little from more, lose a lot when
        cores are shared (threads wait on each other), and one thread makes the result independent of
        the machine's core count."""
        threads = torch.get_num_threads()
        try:
            if self.device.type == "cpu":
                torch.set_num_threads(1)
            yield
        finally:
            torch.set_num_threads(threads)

    def _fuse(self, planes: np.ndarray) -> np.ndarray:
        """One CNN step (on one CPU thread)."""
        with self._one_thread(), torch.inference_mode():
            x = torch.from_numpy(planes)[None].to(self.device)
            return self.model(x)[0].permute(1, 2, 0).float().cpu().numpy() * AB_SCALE

    def _detail(self, luma: np.ndarray, rgb: np.ndarray, work) -> np.ndarray:
        """A keyframe's chroma detail: its full-resolution a/b minus what the working resolution keeps of it."""
        return rgb_to_lab(as_float(rgb))[..., 1:] - self._upsample(luma, self._work_ab(rgb, work))

    @staticmethod
    def _upsample(luma: np.ndarray, ab: np.ndarray) -> np.ndarray:
        if ab.shape[:2] == luma.shape:
            return ab
        return guided_upsample(luma, ab, radius=GUIDE_RADIUS, eps=GUIDE_EPS)

    def _work_size(self, shape) -> tuple[int, int]:
        height, width = shape
        work_h, work_w = working_size(height, width, min(self.long_side, max(height, width)), multiple=8)
        return max(work_h, MIN_SIDE), max(work_w, MIN_SIDE)

    @staticmethod
    def _work_luma(luma: np.ndarray, work) -> np.ndarray:
        return cv2.resize(luma, (work[1], work[0]), interpolation=cv2.INTER_AREA)

    @staticmethod
    def _work_ab(rgb: np.ndarray, work) -> np.ndarray:
        small = cv2.resize(as_float(rgb), (work[1], work[0]), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(rgb_to_lab(small)[..., 1:])

