"""Every background job of the studio, imported here so Celery workers register them all
(Celery's autodiscovery imports `annotations.tasks`). The jobs live with their stage."""
from annotations.footage import tasks as footage_tasks  # noqa: F401
from annotations.keyframes import tasks as keyframe_tasks  # noqa: F401
from annotations.render import tasks as render_tasks  # noqa: F401
