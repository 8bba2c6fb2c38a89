"""A Celery worker that waits after each frame it works on, so a test can fault it mid-job.

Everything it computes is real; it is only slow:
    SLOW_FRAME_SECONDS   after each propagated frame of a render stretch
    SLOW_INGEST_SECONDS  after each frame written during ingest
Usage: python slow_worker.py -A colorproj worker ...
"""
import os
import sys
import time


def main():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorproj.settings")
    django.setup()
    from annotations import frames
    from inference.propagation.engine import ShotPropagator

    frame_delay = float(os.environ.get("SLOW_FRAME_SECONDS", "0"))
    ingest_delay = float(os.environ.get("SLOW_INGEST_SECONDS", "0"))
    propagate_stretch, write_proxy = ShotPropagator.propagate_stretch, frames.write_proxy

    def slow_stretch(self, *args, **kwargs):
        for item in propagate_stretch(self, *args, **kwargs):
            time.sleep(frame_delay)
            yield item

    def slow_proxy(*args, **kwargs):
        result = write_proxy(*args, **kwargs)
        time.sleep(ingest_delay)
        return result

    ShotPropagator.propagate_stretch, frames.write_proxy = slow_stretch, slow_proxy
    from celery.__main__ import main as celery

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(celery())


if __name__ == "__main__":
    main()
