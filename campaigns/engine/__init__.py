"""The delivery engine: fan-out (fanout.py), dispatch (dispatch.py), provider status (status.py),
scheduling and hygiene (scheduler.py) and the counters they keep (counters.py). Celery tasks in
campaigns/tasks.py are thin wrappers around these."""
