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

`progress(done, total)` is called after each frame. Bad input raises PropagationError
(a ValueError whose message is fit to show a user).

How: at a working resolution (long side 320) DIS optical flow links neighbouring frames in
both directions; forward-backward consistency gives each flow a confidence. Keyframe a/b
is carried along composed flows from the keyframe a stretch starts at and, backward, from
the one it ends at; the previous output is warped one step. The fusion CNN (network.py)
blends these candidates with the frame's luma and fills what none covers. Chroma is then
brought to full resolution by luma-guided upsampling; the keyframes' own fine chroma (what
the working resolution loses) is added back, warped along the same flows scaled up and
weighted by each keyframe's share and confidence. The result is composed with the source
luma, which is never altered. method="flow" is the classical baseline: the two keyframe
candidates blended by confidence and nearness, no network (the full-resolution step is the same).
"""
from .engine import PropagationError, ShotPropagator, stretches

__all__ = ["PropagationError", "ShotPropagator", "stretches"]
