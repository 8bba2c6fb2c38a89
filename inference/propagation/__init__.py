"""propagation engine."""
