"""The heartbeat's beat entry name: Beat's schedule (tasks/schedule.py) sends it, /healthz
(ops/selectors.py) reads when Beat last did. Django-free, as the Celery app loads it at start-up."""

HEARTBEAT_ENTRY = "ops.heartbeat"
