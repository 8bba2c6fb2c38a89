"""The Celery app: workers consume "preview" (latency-sensitive) and/or "batch" (ingest, render).

    celery -A colorproj worker -Q preview   # e.g. on a GPU machine
    celery -A colorproj worker -Q batch
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorproj.settings")

app = Celery("colorproj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
