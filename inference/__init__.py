"""colorproj's colorization engine: color science, the keyframe CNN, the
propagation CNN, training, evaluation and the `colorproj` command line.

Importable and usable without Django.
"""
