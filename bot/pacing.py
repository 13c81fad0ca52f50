"""Per-channel pacing: a token bucket per Slack channel, and pauses when Slack says Retry-After."""
from __future__ import annotations

import threading


class Pacer:
    """About `rate` messages a second per key, with bursts up to `burst`; thread-safe."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}   # key -> (tokens, at)
        self._paused: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float:
        """0 when a message may go now (and counts it); else the seconds to wait."""
        with self._lock:
            until = self._paused.get(key, 0.0)
            if until > now:
                return until - now
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def pause(self, key: str, until: float) -> None:
        with self._lock:
            self._paused[key] = max(until, self._paused.get(key, 0.0))
