"""The engines as the studio runs them: one copy per process, and the same frames whatever ran before."""
import cv2
import numpy as np
import torch

from annotations import engines
from inference.hints import ColorPoint, Hints


def test_a_keyframe_comes_out_the_same_whatever_job_ran_before():
    # A worker's first job may be a render or a preview. Before the engines set torch's threads
    # themselves, a fresh process ran on torch's default (one per core) until a preview job set
    # one thread, and the network's sums round differently: the same approved keyframe came out a
    # level apart in some pixels, and so did every frame propagated from it.
    rng = np.random.default_rng(7)
    frame = cv2.resize((rng.random((45, 80)) * 255).astype(np.uint8), (320, 180), interpolation=cv2.INTER_CUBIC)
    hints = Hints(tuple(ColorPoint(float(20 + 35 * i), float(30 + 40 * (i % 3)), color, 2, f"p{i}")
                        for i, color in enumerate(((176, 48, 32), (48, 96, 192), (64, 160, 64), (224, 192, 64)) * 2)))
    outputs = []
    for threads in (4, 1):  # a fresh multi-core process, then after another job set one thread
        torch.set_num_threads(threads)
        outputs.append(engines.keyframe_engine("cnn").colorize(frame, hints))
        engines.keyframe_engine("cnn").colorize(255 - frame, hints)  # another frame's job in between
    assert np.array_equal(*outputs)
