from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Colorization studio"

    def ready(self):
        # Actions enqueue jobs by name; the jobs register themselves when their modules are
        # imported, which needs the models loaded: here, once the app registry is ready.
        from annotations import tasks  # noqa: F401
        # Membership and account changes close the affected sockets (signal receivers).
        from annotations import permissions  # noqa: F401
