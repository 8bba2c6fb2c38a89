"""Shot propagation engine: color keyframes carried through a whole shot, without flicker.

    from inference.propagation import ShotPropagator

    propagator = ShotPropagator.load(device="cpu", method="cnn")  # or method="flow"; weights load once
    # frames: a sequence of uint8 frames (gray HxW or RGB HxWx3, reduced to luma), or a callable
    #         index -> frame together with count=N; keyframes: {frame index: uint8 RGB of the same size}
    for index, rgb in propagator.propagate(frames, keyframes, progress=callback):
        ...  # uint8 RGB in frame order; its luma is the source luma, keyframes come back as given

    # The shot splits into independent stretches -- [0, first key), [key, next key), ...,
    # [last key, N) -- that can go to different workers; joined, they equal propagate():
    for start, end in stretches(N, keyframes):
        for index, rgb in propagator.propagate_stretch(frames, keyframes, start, end):
            ...

    # with_confidence=True (propagate and propagate_stretch) adds how far each frame can be trusted:
    for index, rgb, confidence in propagator.propagate(frames, keyframes, with_confidence=True):
        confidence.map      # uint8 h x w, long side 80, 0..255 for 0..1 (low-resolution; store as PNG)
        confidence.summary()  # {"mean": 0..1, "low": share below 0.5}, for a manifest

`progress(done, total)` is called after each frame. Bad input raises PropagationError
(a ValueError whose message is fit to show a user).

How: at a working resolution (long side 320) DIS optical flow links neighbouring frames in
both directions; forward-backward consistency gives each flow a confidence. Keyframe a/b
is carried along composed flows from the keyframe a stretch starts at and, backward, from
the one it ends at; the previous output is warped one step; and keyframe colors are found by
frozen-feature matching in a window around where the flow points (match.py), which holds
where the flow loses an object (occlusions, large motion). The fusion CNN (network.py) blends
these candidates with the frame's luma and fills what none covers. Chroma is then
brought to full resolution by luma-guided upsampling; the keyframes' own fine chroma (what
the working resolution loses) is added back, warped along the same flows scaled up and
weighted by each keyframe's share and confidence. The result is composed with the source
luma, which is never altered. method="flow" is the classical baseline: the two keyframe
candidates blended by confidence and nearness, no network, no matching (the full-resolution
step is the same).

Each fused frame then goes through an edge-aware, confidence-weighted least-squares solve on
its own luma before the full-resolution step (solve.py), so the chroma follows that frame's
edges: the network's chroma stays where it or the match is confident and is filled along the
frame's edges elsewhere. refine=False skips it: faster, but the solve gains PSNR on every
validation clip (model card).
The quality measures of a finished render are in quality.py (`assess`).
"""
from .engine import LOW_CONFIDENCE, FrameConfidence, PropagationError, ShotPropagator, stretches

__all__ = ["LOW_CONFIDENCE", "FrameConfidence", "PropagationError", "ShotPropagator", "stretches"]
