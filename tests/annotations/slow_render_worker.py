"""A Celery worker whose propagation waits SLOW_FRAME_SECONDS after each frame.

Everything it computes is real; it is only slow, so a test can kill it in the middle of a
stretch. Usage: python slow_render_worker.py -A colorproj worker ...
"""
import os
import sys
import time


def main():
    from inference.propagation.engine import ShotPropagator

    original = ShotPropagator.propagate_stretch
    delay = float(os.environ.get("SLOW_FRAME_SECONDS", "0.5"))

    def slow(self, *args, **kwargs):
        for item in original(self, *args, **kwargs):
            time.sleep(delay)
            yield item

    ShotPropagator.propagate_stretch = slow
    from celery.__main__ import main as celery

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(celery())


if __name__ == "__main__":
    main()
