"""A worker process's entry point (`celery -A workers.main worker`): its Celery app, configured
from the settings the process builds once (workers/runtime.py)."""

from workers.celery_app import make_celery
from workers.runtime import runtime

app = make_celery(runtime().settings)
