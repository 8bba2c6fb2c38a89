"""The footage jobs (thin: load by id, call the action). See colorproj.jobs for how they run."""
from annotations.footage import actions
from annotations.models import Footage
from colorproj.jobs import job


@job(queue="batch")
def ingest_footage(footage_id: int, split: bool = False) -> None:
    footage = Footage.objects.filter(pk=footage_id).select_related("project").first()
    if footage is not None:
        actions.ingest(footage, split=split)
