"""The render jobs (thin: load by id, call the step in annotations.render.actions).

Each is safe to run twice: a job redelivered after its worker died (acks late, reject on
worker lost) finds what is already done and skips it.
"""
from annotations.models import Render
from annotations.render import actions
from colorproj.jobs import job


def _render(render_id: int) -> Render | None:
    return Render.objects.filter(pk=render_id).select_related("shot__footage", "shot__project").first()


@job(queue="batch")
def prepare_render(render_id: int) -> None:
    render = _render(render_id)
    if render is not None:
        actions.prepare(render)


@job(queue="batch")
def render_stretch(render_id: int, index: int) -> None:
    render = _render(render_id)
    if render is not None:
        actions.run_stretch(render, index)


@job(queue="batch")
def finalize_render(render_id: int) -> None:
    render = _render(render_id)
    if render is not None:
        actions.finalize(render)
