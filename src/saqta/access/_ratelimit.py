"""Rate limits per client and per user: one token bucket per principal, in this process.

A bucket holds up to ``rate * burst_seconds`` tokens and refills at ``rate`` per second; each
request takes one. When none is left the request is refused with how long to wait (HTTP 429
with ``Retry-After``). Several worker processes each keep their own buckets, so the limit of a
deployment is the per-process limit times the number of workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        *,
        client_rate: float,
        user_rate: float,
        burst_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = {"client": client_rate, "user": user_rate}
        self.burst_seconds = burst_seconds
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def take(self, kind: str, name: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one."""
        rate = self.rates.get(kind, self.rates["user"])
        capacity = max(1.0, rate * self.burst_seconds)
        key = f"{kind}:{name}"
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [capacity, now]
            tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return 0.0
            bucket[0] = tokens
            return (1.0 - tokens) / rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """The ``Retry-After`` value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))
