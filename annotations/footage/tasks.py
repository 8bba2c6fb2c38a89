"""The footage jobs (thin: load by id, call the action). See colorproj.jobs for how they run."""
from django.conf import settings

from colorproj.jobs import enqueue, job


@job(queue="batch")
def ingest_footage(footage_id: int, split: bool = False) -> None:
    from annotations.footage.actions import ingest
    from annotations.models import Footage

    footage = Footage.objects.filter(pk=footage_id).select_related("project").first()
    if footage is not None:
        ingest(footage, split=split)


def enqueue_ingest(footage, *, split: bool = False) -> None:
    enqueue(ingest_footage, footage.pk, split, queue=settings.COLORPROJ_INGEST_QUEUE)
