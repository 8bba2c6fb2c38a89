"""Loaded once by the forkserver that starts the job child processes (colorproj.jobs): Django's
apps and the heavy libraries, so each job's child starts with them imported."""
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorproj.settings")
django.setup()

import av  # noqa: E402,F401
import numpy  # noqa: E402,F401
