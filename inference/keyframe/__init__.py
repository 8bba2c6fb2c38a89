"""The keyframe engine: user-guided colorization of one frame from color points and
boundary strokes (the network's automatic colors and the points regressed in feature
space, mixed by confidence and solved edge-aware; Levin et al. 2004 as the classical
method)."""
from inference.keyframe.engine import KeyframeColorizer

__all__ = ["KeyframeColorizer"]
