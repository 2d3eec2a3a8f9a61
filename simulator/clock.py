"""The simulated clock every service of the simulator reads.

Simulated time runs at ``speed`` times real time from an anchor; tests freeze it (``speed=0``) or
move it (``set(now=...)``). Rate-limit windows and OAuth code lifetimes use real time instead,
because real clients wait for them with real sleeps.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SimClock:
    def __init__(self, now: datetime | None = None, speed: float = 1.0) -> None:
        self._anchor_real = time.time()
        self._anchor_sim = (now or datetime.now(UTC)).timestamp()
        self._speed = float(speed)
        # Bumped on every change so caches keyed on "the world as it was" can tell.
        self.version = 0

    @property
    def speed(self) -> float:
        return self._speed

    def timestamp(self) -> float:
        """Simulated POSIX timestamp (seconds, UTC)."""
        return self._anchor_sim + (time.time() - self._anchor_real) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def set(self, *, now: datetime | None = None, speed: float | None = None) -> None:
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        current = self.timestamp()
        self._anchor_real = time.time()
        self._anchor_sim = now.timestamp() if now is not None else current
        if speed is not None:
            if speed < 0:
                raise ValueError("speed must be >= 0")
            self._speed = float(speed)
        self.version += 1

    def real_seconds_until(self, sim_ts: float) -> float:
        """Real seconds until the simulated clock reaches ``sim_ts`` (inf when frozen)."""
        delta = sim_ts - self.timestamp()
        if delta <= 0:
            return 0.0
        if self._speed <= 0:
            return float("inf")
        return delta / self._speed

    def as_dict(self) -> dict[str, object]:
        return {"now": self.now().isoformat(), "speed": self._speed}
