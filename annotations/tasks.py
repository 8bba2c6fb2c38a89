"""Every background job of the studio, imported here so Celery workers register them all
(Celery's autodiscovery imports `annotations.tasks`). The jobs live with their stage."""
from annotations.footage import tasks as footage_tasks  # noqa: F401
from annotations.keyframes import previews  # noqa: F401  (the preview and suggestion jobs)
from annotations.render import tasks as render_tasks  # noqa: F401
