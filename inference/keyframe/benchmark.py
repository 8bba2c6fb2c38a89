"""Speed of the keyframe engine with the model already loaded.

Preview: a 512-px keyframe at long side 512, both for a keyframe seen for the first
time ("new frame") and for a hint edit on the same keyframe ("hint edit", the live
preview's case: backbone features and the solve's affinities are reused), and a hint edit with the
guidance (where to click next) the studio's network previews carry. Full resolution: 1920x1080 and
3840x2160 output from the default working size.
"""
from __future__ import annotations

import os
import time

import cv2
import numpy as np
import torch

from inference.hints import ColorPoint, Hints, Stroke
from inference.keyframe.engine import KeyframeColorizer


def synthetic_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((h // 16 + 1, w // 16 + 1)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    frame = 0.5 * noise + 0.3 * ((xx // (w // 6) + yy // (h // 4)) % 2) + 0.1
    return (np.clip(frame, 0, 1) * 255).astype(np.uint8)


def synthetic_hints(h: int, w: int, n: int = 10, seed: int = 0) -> Hints:
    rng = np.random.default_rng(seed)
    points = tuple(ColorPoint(float(rng.integers(0, w)), float(rng.integers(0, h)),
                              tuple(int(v) for v in rng.integers(0, 256, 3)), 2, f"p{i}") for i in range(n))
    stroke = Stroke(((w * 0.5, h * 0.1), (w * 0.55, h * 0.9)), 3, "s0")
    return Hints(points, (stroke,))


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def benchmark(device: str = "cpu", repeats: int = 5, threads: int = 0) -> int:
    if threads:
        torch.set_num_threads(threads)

    engine = KeyframeColorizer.load(device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    print(f"device {device}, torch threads {torch.get_num_threads()}, median of {repeats}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = []
    for label, (h, w), long_side in (("preview 512x512", (512, 512), 512), ("preview 512x288", (288, 512), 512),
                                     ("full-res 1920x1080", (1080, 1920), 512),
                                     ("full-res 3840x2160", (2160, 3840), 512)):
        frames = [synthetic_frame(h, w, seed) for seed in range(repeats + 1)]
        hints = synthetic_hints(h, w)
        engine.colorize(frames[-1], hints, long_side=long_side)  # warm-up
        counter = iter(range(repeats))

        def new_frame():
            engine.colorize(frames[next(counter)], hints, long_side=long_side)
            sync()

        def hint_edit():
            engine.colorize(frames[0], synthetic_hints(h, w, seed=int(time.perf_counter_ns() % 1000)),
                            long_side=long_side)
            sync()

        rows.append((label, _time(new_frame, repeats), _time(hint_edit, repeats)))
    print(f"{'case':<22}{'new frame ms':>14}{'hint edit ms':>14}")
    for label, a, b in rows:
        print(f"{label:<22}{a:>14.0f}{b:>14.0f}")
    h, w = 512, 512
    frame, hints = synthetic_frame(h, w), synthetic_hints(h, w)
    # The guidance's own cost: the same edits with and without it, interleaved, median of the differences.
    extra, plain = [], []
    for seed in range(3 * repeats):
        edit = synthetic_hints(h, w, seed=100 + seed)
        engine.colorize(frame, edit, long_side=512)  # the frame's features and affinities are cached from here
        t0 = time.perf_counter()
        engine.colorize(frame, edit, long_side=512)
        t1 = time.perf_counter()
        engine.colorize(frame, edit, long_side=512, guidance=True)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        extra.append((t2 - t1) - (t1 - t0))
    print(f"{'hint edit 512x512':<22}{1000 * np.median(plain):>14.0f} ms; guidance adds {1000 * np.median(extra):.1f} ms "
          f"(median of {len(extra)} interleaved pairs)")
    levin_ms = _time(lambda: engine.colorize(frame, hints, method="levin", long_side=512), 1)
    print(f"{'levin 512x512':<22}{levin_ms:>14.0f}")
    return 0
