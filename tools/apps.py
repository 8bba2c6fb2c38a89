from django.apps import AppConfig


class ToolsConfig(AppConfig):
    """Tools around the studio, not part of it: `manage.py loadtest`, the render benchmark
    (`python -m tools.render_benchmark`) and the child-process helpers they and the tests share."""

    name = "tools"
    verbose_name = "Studio tools"
