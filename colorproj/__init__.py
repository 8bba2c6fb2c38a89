"""The colorproj web studio (Django project)."""
from colorproj.celery import app as celery_app

__all__ = ["celery_app"]
