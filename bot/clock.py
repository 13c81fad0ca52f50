"""The bot's notion of "now" for incident time: wall-clock time, unless a test has taken the clock over.

Every timestamp people read (incidents, timelines, silences, handoffs, reports) comes from `now()`. The outbox's
retry timers and caches keep real time. With DRE_SCRIPTED_CLOCK=1 a test sets the clock through
POST /sandbox/clock (loopback only): from the first move on, the clock stands still at the time set until the
next move, so a scripted shift (an alert at 09:00, an acknowledgement at 09:05, the shift change at 21:00) gives
exact figures. It only ever moves forward, so nothing already scheduled runs twice."""
from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_frozen: float | None = None


def now() -> float:
    frozen = _frozen
    return time.time() if frozen is None else frozen


def move_to(when: float) -> float:
    """Set the clock to `when` (a Unix time not before now()) and hold it there."""
    global _frozen
    with _lock:
        current = now()
        if when < current:
            raise ValueError(f"The clock only moves forward: {when:.0f} is before now ({current:.0f}).")
        _frozen = float(when)
        return _frozen


def advance(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("The clock only moves forward.")
    return move_to(now() + seconds)


def reset() -> None:
    """Back to wall-clock time, as a fresh process starts: a bot started in the test process must not inherit the
    clock an earlier bot scripted."""
    global _frozen
    with _lock:
        _frozen = None
