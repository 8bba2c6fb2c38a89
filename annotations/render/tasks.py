"""The render jobs (thin: load by id, call the step in annotations.render.actions).

Each is safe to run twice: a job redelivered after its worker died (acks late, reject on
worker lost) finds what is already done and skips it.
"""
from annotations.models import Render
from annotations.render import actions
from colorproj.jobs import job


def _render(render_id: int) -> Render | None:
    return Render.objects.filter(pk=render_id).select_related("shot__footage", "shot__project").first()


def _crashed(render_id: int, *_, reason: str) -> None:
    """A render job's process died (a native crash, out of memory): the render fails; it can be retried."""
    render = _render(render_id)
    if render is not None:
        actions.fail(render, f"{reason}; retry the render")


@job(queue="batch", on_crash=_crashed)
def prepare_render(render_id: int) -> None:
    render = _render(render_id)
    if render is not None:
        actions.prepare(render)


@job(queue="batch", on_crash=_crashed)
def render_stretch(render_id: int, index: int) -> None:
    render = _render(render_id)
    if render is not None:
        actions.run_stretch(render, index)


@job(queue="batch", on_crash=_crashed)
def finalize_render(render_id: int) -> None:
    render = _render(render_id)
    if render is not None:
        actions.finalize(render)
