"""The keyframe engine: user-guided colorization of one frame from color points and
boundary strokes (a CNN refining an edge-aware propagation; Levin et al. 2004 as the
classical method)."""
from inference.keyframe.engine import KeyframeColorizer

__all__ = ["KeyframeColorizer"]
