"""The footage jobs (thin: load by id, call the action). See colorproj.jobs for how they run."""
from annotations.footage import actions
from annotations.models import Footage
from colorproj.jobs import job


def _crashed(footage_id: int, *_, reason: str) -> None:
    """The ingest's process died (a native crash in a decoder, out of memory): the footage fails."""
    footage = Footage.objects.filter(pk=footage_id).select_related("project").first()
    if footage is not None:
        actions.fail(footage, f"{reason} while decoding; the file could not be read safely")


@job(queue="batch", on_crash=_crashed)
def ingest_footage(footage_id: int, split: bool = False) -> None:
    footage = Footage.objects.filter(pk=footage_id).select_related("project").first()
    if footage is not None:
        actions.ingest(footage, split=split)
