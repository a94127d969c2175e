"""Celery side of imagejobs: the app, the thin tasks, and the job runner they call."""
