"""The broker: the Celery app built from settings, task names, sending ids, noticing lost data."""
