"""The bot's notion of "now" for incident time: wall-clock time, which tests may move forward.

Every timestamp people read (incidents, timelines, silences, handoffs, reports) comes from `now()`. The outbox's
retry timers and caches keep real time. With DRE_SCRIPTED_CLOCK=1 a test can move this clock forward through
POST /sandbox/clock (loopback only), so a whole shift plays out in seconds: incidents opening, being acknowledged,
a shift change firing the handoff. It only ever moves forward, so nothing already scheduled runs twice."""
from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_offset = 0.0


def now() -> float:
    return time.time() + _offset


def move_to(when: float) -> float:
    """Make now() read `when` (a Unix time not before now()); returns the new offset."""
    global _offset
    with _lock:
        current = time.time() + _offset
        if when < current:
            raise ValueError(f"The clock only moves forward: {when:.0f} is before now ({current:.0f}).")
        _offset = when - time.time()
        return _offset


def advance(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("The clock only moves forward.")
    return move_to(now() + seconds)
