from django.db import models


class Heartbeat(models.Model):
    """Last sign of life of a process role (the worker writes it from the heartbeat task)."""

    role = models.CharField(max_length=32, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.role} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}Z"
