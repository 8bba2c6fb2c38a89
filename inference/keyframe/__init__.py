"""keyframe engine."""
