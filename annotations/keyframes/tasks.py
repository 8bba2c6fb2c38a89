"""The keyframe jobs, on the latency-sensitive "preview" queue (thin: the work is in previews and carry)."""
from annotations.keyframes import carry, previews
from colorproj.jobs import job


@job(queue="preview")
def render_preview(keyframe_id: int, token: str) -> None:
    """Previews of the keyframe's newest wanted revisions, while the lease `token` is held."""
    previews.render_wanted(keyframe_id, token)


@job(queue="preview")
def suggest_colors(keyframe_id: int, revision: int, x: float, y: float, reply_channel: str, request: str) -> None:
    """The network's color suggestions at source pixel (x, y), answered to `reply_channel`."""
    previews.suggest_colors(keyframe_id, revision, x, y, reply_channel, request)


@job(queue="preview")
def region_preview(keyframe_id: int, revision: int, x: int, y: int, width: int, height: int, reply_channel: str,
                   request: str) -> None:
    """A region of the revision's full-resolution colorization, answered to `reply_channel`."""
    previews.region_preview(keyframe_id, revision, x, y, width, height, reply_channel, request)


@job(queue="preview")
def carry_points(keyframe_id: int, reply_channel: str, request: str) -> None:
    """The points of the nearest keyframe, followed to this one, answered to `reply_channel`."""
    carry.send_carried(keyframe_id, reply_channel, request)
